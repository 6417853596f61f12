// Two kinds of failure, told apart by exit code: the user asked for something malformed (2), or
// the work could not be done / found problems (1).

/** An operation failed; the message is shown to the user as is. */
export class PatchesError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PatchesError';
  }
}

/** The command line is wrong; usage is printed with the message. */
export class UsageError extends PatchesError {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}
