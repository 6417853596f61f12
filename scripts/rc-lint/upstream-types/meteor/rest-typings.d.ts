// Lint-time shape of a Rocket.Chat module the meteor overlay imports (names and signatures only,
// the ones the overlay uses, as read in the stored Rocket.Chat files meteor-patches/8.8/README.md
// lists), so that the type-aware rules of scripts/rc-lint see types. Never shipped nor run.
interface IValidateFunction<T> {
	(data: unknown): data is T;
	errors?: unknown;
}

export declare const ajv: {
	compile<T>(schema: Record<string, unknown>): IValidateFunction<T>;
};
