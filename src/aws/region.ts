import { loadSharedConfigFiles } from '@smithy/core/config';
import type { TableRefConfig } from '../config/schema.js';
import { DynashiftError } from '../errors.js';
import type { ClientRole } from './errors.js';

/** DynamoDB Local serves every Region name alike; its tests and the demo use this one. */
const LOOPBACK_REGION = 'us-east-1';

/**
 * The Region of a table reference, from the standard settings in the AWS CLI's order: the config's `region`, then
 * AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region` (the reference's `profile`, else AWS_PROFILE, else
 * `default`). An endpoint on loopback (DynamoDB Local) needs none. Anything else without one is REGION_MISSING: a
 * silent us-east-1 could migrate from, or into, the wrong table.
 */
export async function resolveRegion(ref: Pick<TableRefConfig, 'region' | 'profile' | 'endpoint'>, role: ClientRole): Promise<string> {
  if (ref.region) return ref.region;
  const env = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION;
  if (env) return env;
  const profile = ref.profile ?? process.env.AWS_PROFILE;
  if (profile) await profileExists(profile, role, ref.profile ? `${role.setting}.profile` : 'AWS_PROFILE');
  const files = await loadSharedConfigFiles();
  const name = profile ?? 'default';
  const fromProfile = files.configFile?.[name]?.['region'] ?? files.credentialsFile?.[name]?.['region'];
  if (fromProfile) return fromProfile;
  if (isLoopback(ref.endpoint)) return LOOPBACK_REGION;
  throw new DynashiftError(
    'REGION_MISSING',
    `no AWS Region for the ${role.side} (${role.setting}, table ${role.table}): none is configured and no standard setting supplies one`,
    {
      side: role.side,
      exitCode: 2,
      hint: `set ${role.setting}.region in the config (or AWS_REGION / AWS_DEFAULT_REGION, or region in the ${name} profile of ~/.aws/config)`,
    },
  );
}

/** Refuses a profile that neither ~/.aws/config nor ~/.aws/credentials (or AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE) has. */
export async function profileExists(profile: string, role: ClientRole, setting: string): Promise<void> {
  const files = await loadSharedConfigFiles();
  if (files.configFile?.[profile] || files.credentialsFile?.[profile]) return;
  throw new DynashiftError(
    'PROFILE_NOT_FOUND',
    `the ${role.side}'s profile "${profile}" (${setting}) is in neither the AWS config nor the credentials file`,
    {
      side: role.side,
      exitCode: 2,
      hint: `correct ${setting}, or add [profile ${profile}] to ${process.env.AWS_CONFIG_FILE ?? '~/.aws/config'} (the AWS CLI's aws configure command writes one)`,
    },
  );
}

/** An endpoint on this machine (DynamoDB Local): no Region or credentials needed. */
export function isLoopback(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}
