import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../contenders/dynashift.js';

/** `dynashift verify` exists once src/engine/verify and its CLI command are there. */
export function verifyAvailable(): { available: boolean; reason?: string } {
  const engine = path.join(ROOT, 'src/engine/verify');
  const command = path.join(ROOT, 'src/cli/commands/verify.ts');
  if (!existsSync(engine)) return { available: false, reason: 'src/engine/verify does not exist yet' };
  if (!existsSync(command)) return { available: false, reason: 'src/cli/commands/verify.ts does not exist yet' };
  return { available: true };
}
