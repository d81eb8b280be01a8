export { Lab, DEFAULT_LAB_OPTIONS, CONTENT_FORMAT_JSON, CONTENT_FORMAT_TEXT } from './lab.js';
export type { LabCode, LabEvent, LabOptions, LabReply } from './lab.js';
export { LAB_RESOURCES, isLabResource, fmtClock } from './resources.js';
export type { LabDecision, LabResourceName } from './resources.js';
export { parsePyJson, pyJsonDumps, pyRepr, pyStr, pyFloatRepr, pyStrRepr } from './py-json.js';
export type { PyValue, PyDict } from './py-json.js';
export { MAX_COUNTER } from './schemas.js';
export { DEMO_PARTS, demoScript, explain, initialState, runDemo } from './demo.js';
export type { DemoPart, DemoRunOptions, DemoSection, DemoSend, DemoStep } from './demo.js';
