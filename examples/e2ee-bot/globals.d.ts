// The Apps-Engine runtime gives every app a CommonJS `require` that resolves
// @rocket.chat/apps-engine against the server's own copy of the definitions.
declare const require: (id: string) => unknown;
