import { limitHeapGrowth } from './heap-growth.js';
import { main } from './main.js';

// The SDK warns on every start that its 2027 releases will need Node 22; dynashift supports Node 20, so keep the
// output for what the user asked about (an explicit setting still wins).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

limitHeapGrowth();

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
