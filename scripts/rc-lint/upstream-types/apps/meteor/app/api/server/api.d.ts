// Lint-time shape of a Rocket.Chat module the meteor overlay imports (names and signatures only,
// the ones the overlay uses, as read in the stored Rocket.Chat files meteor-patches/8.8/README.md
// lists), so that the type-aware rules of scripts/rc-lint see types. Never shipped nor run.
import type { IUser } from '@rocket.chat/core-typings';

interface IRouteContext {
	userId: string;
	user: IUser & { username: string };
	bodyParams: any;
	queryParams: any;
}

type Result = { statusCode: number; body: unknown };

interface IRouteOptions {
	authRequired?: boolean;
	validateParams?: (data: unknown) => boolean;
}

export declare const API: {
	v1: {
		addRoute(
			route: string,
			options: IRouteOptions,
			operations: Partial<Record<'get' | 'post', (this: IRouteContext) => Promise<Result>>>,
		): void;
		success(body?: Record<string, unknown>): Result;
		failure(body?: Record<string, unknown>): Result;
	};
};
