# One Causeway node. Configure with CAUSEWAY_* environment variables (see docker-compose.yml).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm install --no-audit --no-fund
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
VOLUME /data
# HTTP, CoAP (UDP), peer links
EXPOSE 5000/tcp 5683/udp 7000/tcp
# garbage-collection flags: see src/cli/node-flags.ts
ENTRYPOINT ["node", "--single-threaded-gc", "--max-semi-space-size=2", "bin/causeway.js", "node"]
