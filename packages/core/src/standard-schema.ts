// The Standard Schema interface (https://standardschema.dev, `@standard-schema/spec` 1.x), copied
// as the spec invites so that core keeps no dependency: types only, nothing here exists at run time.
// zod (3.24+, 4), valibot (1+), arktype (2+) and others implement it.

/** A schema any Standard Schema library produces: validates `unknown` into `Output`. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

// A `declare namespace` holds types only: it is erased, like the spec's own.
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace StandardSchemaV1 {
  /** The Standard Schema properties interface. */
  export interface Props<Input = unknown, Output = Input> {
    /** The version number of the standard. */
    readonly version: 1;
    /** The vendor name of the schema library. */
    readonly vendor: string;
    /** Validates an unknown input value; may return a promise. */
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    /** Inferred types associated with the schema. */
    readonly types?: Types<Input, Output> | undefined;
  }

  /** The result of `validate`. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;

  /** A successful validation. */
  export interface SuccessResult<Output> {
    /** The typed output value. */
    readonly value: Output;
    /** Absent on success. */
    readonly issues?: undefined;
  }

  /** A failed validation. */
  export interface FailureResult {
    /** The issues found. */
    readonly issues: ReadonlyArray<Issue>;
  }

  /** One validation issue. */
  export interface Issue {
    /** The error message of the issue. */
    readonly message: string;
    /** The path of the issue, if any. */
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }

  /** A path segment given as an object. */
  export interface PathSegment {
    /** The key representing a path segment. */
    readonly key: PropertyKey;
  }

  /** The Standard Schema types interface. */
  export interface Types<Input = unknown, Output = Input> {
    /** The input type of the schema. */
    readonly input: Input;
    /** The output type of the schema. */
    readonly output: Output;
  }

  /** Infers the input type of a Standard Schema. */
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['input'];

  /** Infers the output type of a Standard Schema. */
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output'];
}
