/**
 * Provider presets: issuer defaults and the claims that pin one workload (DESIGN "Presets and
 * identity claims"). `knownClaims` feeds the lint rule for misspelt claim names.
 */
export interface Preset {
  readonly issuer?: string
  /** Other exact `iss` values the same issuer signs with (Google uses two spellings). */
  readonly issuerAliases?: readonly string[]
  readonly jwksUri?: string
  readonly algorithms?: readonly string[]
  readonly identityClaims: readonly string[]
  readonly knownClaims: readonly string[]
}

export const PRESET_NAMES = ['github-actions', 'gitlab', 'kubernetes', 'azure', 'gcp-instance', 'gcp'] as const
export type PresetName = (typeof PRESET_NAMES)[number]

const STANDARD_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']

const GCP_INSTANCE: Preset = {
  issuer: 'https://accounts.google.com',
  issuerAliases: ['accounts.google.com'],
  jwksUri: 'https://www.googleapis.com/oauth2/v3/certs',
  algorithms: ['RS256'],
  identityClaims: ['sub', 'instance_id', 'instance_name'],
  knownClaims: [
    ...STANDARD_CLAIMS,
    'azp',
    'email',
    'email_verified',
    'instance_id',
    'instance_name',
    'project_id',
    'project_number',
    'zone',
    'instance_creation_timestamp',
    'google.compute_engine.instance_id',
    'google.compute_engine.instance_name',
    'google.compute_engine.project_id',
    'google.compute_engine.project_number',
    'google.compute_engine.zone',
    'google.compute_engine.instance_creation_timestamp',
  ],
}

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  'github-actions': {
    issuer: 'https://token.actions.githubusercontent.com',
    algorithms: ['RS256'],
    identityClaims: ['sub', 'repository', 'repository_id', 'job_workflow_ref'],
    knownClaims: [
      ...STANDARD_CLAIMS,
      'actor',
      'actor_id',
      'base_ref',
      'enterprise',
      'enterprise_id',
      'environment',
      'event_name',
      'head_ref',
      'job_workflow_ref',
      'job_workflow_sha',
      'ref',
      'ref_protected',
      'ref_type',
      'repository',
      'repository_id',
      'repository_owner',
      'repository_owner_id',
      'repository_visibility',
      'run_attempt',
      'run_id',
      'run_number',
      'runner_environment',
      'sha',
      'workflow',
      'workflow_ref',
      'workflow_sha',
    ],
  },
  gitlab: {
    issuer: 'https://gitlab.com',
    algorithms: ['RS256'],
    identityClaims: ['sub', 'project_id', 'project_path'],
    knownClaims: [
      ...STANDARD_CLAIMS,
      'namespace_id',
      'namespace_path',
      'project_id',
      'project_path',
      'user_id',
      'user_login',
      'user_email',
      'pipeline_id',
      'pipeline_source',
      'job_id',
      'ref',
      'ref_type',
      'ref_path',
      'ref_protected',
      'environment',
      'environment_protected',
      'deployment_tier',
      'runner_id',
      'runner_environment',
      'sha',
      'ci_config_ref_uri',
      'ci_config_sha',
      'project_visibility',
    ],
  },
  kubernetes: {
    algorithms: ['RS256', 'ES256'],
    identityClaims: ['sub'],
    knownClaims: [
      ...STANDARD_CLAIMS,
      'kubernetes.io.namespace',
      'kubernetes.io.serviceaccount.name',
      'kubernetes.io.serviceaccount.uid',
      'kubernetes.io.pod.name',
    ],
  },
  azure: {
    algorithms: ['RS256'],
    identityClaims: ['sub', 'oid'],
    knownClaims: [...STANDARD_CLAIMS, 'oid', 'tid', 'azp', 'appid', 'appidacr', 'azpacr', 'roles', 'xms_mirid', 'idtyp'],
  },
  'gcp-instance': GCP_INSTANCE,
  gcp: GCP_INSTANCE,
}
