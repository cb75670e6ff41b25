import { type AlternateSub, alternateGithubSub } from '../policy/github-subject.js'

/**
 * Provider presets: issuer defaults and the claims that pin one workload (docs/policies.md
 * "Presets"). `knownClaims` feeds the lint rule for misspelt claim names.
 */
export interface Preset {
  readonly issuer?: string
  /** Other exact `iss` values the same issuer signs with (Google uses two spellings). */
  readonly issuerAliases?: readonly string[]
  readonly jwksUri?: string
  readonly algorithms?: readonly string[]
  readonly identityClaims: readonly string[]
  readonly knownClaims: readonly string[]
  /** Claim-name prefixes the issuer may add (GitHub custom repository properties). */
  readonly knownClaimPrefixes?: readonly string[]
  /**
   * When set, every known claim except these (and exp/nbf/iat) is a string, so a number or
   * boolean matcher on it can never match (matching is type-strict; lint warns).
   */
  readonly nonStringClaims?: readonly string[]
  /** Claims naming something re-registrable → the immutable id claim that pins it (lint). */
  readonly namePins?: Readonly<Record<string, string>>
  /**
   * The issuer writes `sub` in two forms (GitHub: by name, or with immutable ids since 2026-06-18):
   * the token's subject in the other form, so explain and `policy test` can tell a denial that is
   * only a difference of form.
   */
  readonly alternateSub?: (claims: Readonly<Record<string, unknown>>) => AlternateSub | undefined
}

export const PRESET_NAMES = [
  'github-actions',
  'gitlab',
  'kubernetes',
  'azure',
  'gcp-instance',
  'gcp',
] as const
export type PresetName = (typeof PRESET_NAMES)[number]

const STANDARD_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']

/** The signed `google.compute_engine` fields a GCP instance token also carries at top level. */
export const GCP_INSTANCE_FIELDS = [
  'instance_id',
  'instance_name',
  'project_id',
  'project_number',
  'zone',
  'instance_creation_timestamp',
] as const

const GCP_INSTANCE: Preset = {
  issuer: 'https://accounts.google.com',
  issuerAliases: ['accounts.google.com'],
  jwksUri: 'https://www.googleapis.com/oauth2/v3/certs',
  algorithms: ['RS256'],
  identityClaims: [
    'sub',
    'instance_id',
    'instance_name',
    'google.compute_engine.instance_id',
    'google.compute_engine.instance_name',
  ],
  nonStringClaims: [
    'email_verified',
    'project_number',
    'instance_creation_timestamp',
    'google.compute_engine.project_number',
    'google.compute_engine.instance_creation_timestamp',
    'google.compute_engine.license_id',
  ],
  knownClaims: [
    ...STANDARD_CLAIMS,
    'azp',
    'email',
    'email_verified',
    ...GCP_INSTANCE_FIELDS,
    'google.compute_engine.instance_id',
    'google.compute_engine.instance_name',
    'google.compute_engine.project_id',
    'google.compute_engine.project_number',
    'google.compute_engine.zone',
    'google.compute_engine.instance_creation_timestamp',
    'google.compute_engine.license_id',
  ],
}

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  'github-actions': {
    issuer: 'https://token.actions.githubusercontent.com',
    algorithms: ['RS256'],
    identityClaims: ['sub', 'repository', 'repository_id', 'job_workflow_ref'],
    knownClaimPrefixes: ['repo_property_'],
    nonStringClaims: [],
    namePins: { repository: 'repository_id', repository_owner: 'repository_owner_id' },
    alternateSub: alternateGithubSub,
    knownClaims: [
      ...STANDARD_CLAIMS,
      'actor',
      'actor_id',
      'base_ref',
      'check_run_id',
      'enterprise',
      'enterprise_id',
      'environment',
      'environment_node_id',
      'event_name',
      'head_ref',
      'issuer_scope',
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
    nonStringClaims: ['runner_id', 'user_identities'],
    namePins: { project_path: 'project_id', namespace_path: 'namespace_id' },
    knownClaims: [
      ...STANDARD_CLAIMS,
      'namespace_id',
      'namespace_path',
      'project_id',
      'project_path',
      'user_id',
      'user_login',
      'user_email',
      'user_access_level',
      'user_identities',
      'groups_direct',
      'pipeline_id',
      'pipeline_source',
      'job_id',
      'ref',
      'ref_type',
      'ref_path',
      'ref_protected',
      'environment',
      'environment_protected',
      'environment_action',
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
    nonStringClaims: ['kubernetes.io.warnafter'],
    knownClaims: [
      ...STANDARD_CLAIMS,
      'kubernetes.io.namespace',
      'kubernetes.io.serviceaccount.name',
      'kubernetes.io.serviceaccount.uid',
      'kubernetes.io.pod.name',
      'kubernetes.io.pod.uid',
      'kubernetes.io.node.name',
      'kubernetes.io.node.uid',
      'kubernetes.io.secret.name',
      'kubernetes.io.secret.uid',
      'kubernetes.io.warnafter',
    ],
  },
  azure: {
    algorithms: ['RS256'],
    identityClaims: ['sub', 'oid'],
    knownClaims: [
      ...STANDARD_CLAIMS,
      'oid',
      'tid',
      'azp',
      'appid',
      'appidacr',
      'azpacr',
      'roles',
      'scp',
      'wids',
      'idp',
      'ver',
      'xms_mirid',
      'xms_az_rid',
      'idtyp',
      'acr',
      'amr',
      'aio',
      'rh',
      'uti',
      'name',
      'preferred_username',
      'unique_name',
      'upn',
      'email',
      'groups',
    ],
  },
  'gcp-instance': GCP_INSTANCE,
  gcp: GCP_INSTANCE,
}

/** Identity claims of the non-OIDC provider kinds (docs/policies.md "Presets"). */
export const KIND_IDENTITY_CLAIMS: Readonly<Record<'aws-iam' | 'aws-ec2' | 'azure-imds', readonly string[]>> =
  {
    'aws-iam': ['sub', 'arn', 'role', 'principal_id'],
    'aws-ec2': ['sub', 'instance_id', 'image_id', 'role'],
    'azure-imds': ['sub', 'vm_id'],
  }
