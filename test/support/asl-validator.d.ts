declare module 'asl-validator' {
  export interface AslValidatorOptions {
    /** Check the JSONPath expressions (InputPath, OutputPath, ResultPath, …). */
    checkPaths?: boolean;
    /** Check that a Task's Resource is an ARN. */
    checkArn?: boolean;
  }
  export interface AslValidationResult {
    isValid: boolean;
    errors: { message: string }[];
    errorsText(separator?: string): string;
  }
  /** Note: it adds QueryLanguage to every state of the definition it is given; pass a copy. */
  export default function aslValidator(definition: unknown, opts?: AslValidatorOptions): AslValidationResult;
}
