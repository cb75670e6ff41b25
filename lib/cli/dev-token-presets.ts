import type { PresetName } from '../config/presets.js'

/**
 * The claims a real issuer of each preset sends for one plausible workload (`--claim` overrides
 * any). The GitHub sample is the workload examples/github-actions-local.yaml admits.
 */
export interface PresetSample {
  readonly sub: string
  readonly claims: Readonly<Record<string, unknown>>
}

const GITHUB: PresetSample = {
  sub: 'repo:acme/app:ref:refs/heads/main',
  claims: {
    repository: 'acme/app',
    repository_id: '892345671',
    repository_owner: 'acme',
    repository_owner_id: '1234567',
    repository_visibility: 'private',
    ref: 'refs/heads/main',
    ref_type: 'branch',
    sha: '0000000000000000000000000000000000000000',
    workflow: 'deploy',
    workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
    job_workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
    event_name: 'push',
    actor: 'octocat',
    actor_id: '100003',
    run_id: '1',
    run_number: '1',
    run_attempt: '1',
    runner_environment: 'github-hosted',
  },
}

const GCP: PresetSample = {
  sub: '100000000000000000001',
  claims: {
    azp: '100000000000000000001',
    email: 'app@acme-prod.iam.gserviceaccount.com',
    email_verified: true,
    google: {
      compute_engine: {
        project_id: 'acme-prod',
        project_number: 100000000001,
        zone: 'europe-west1-b',
        instance_id: '1000000000000000001',
        instance_name: 'app-1',
        instance_creation_timestamp: 1_700_000_000,
      },
    },
  },
}

/** One sample per preset name (gcp is an alias of gcp-instance). */
export const PRESET_SAMPLES: Readonly<Record<PresetName, PresetSample>> = {
  'github-actions': GITHUB,
  gitlab: {
    sub: 'project_path:acme/app:ref_type:branch:ref:main',
    claims: {
      namespace_id: '200001',
      namespace_path: 'acme',
      project_id: '200002',
      project_path: 'acme/app',
      user_id: '200003',
      user_login: 'dev',
      pipeline_id: '1',
      pipeline_source: 'push',
      job_id: '1',
      ref: 'main',
      ref_type: 'branch',
      ref_protected: 'true',
      environment: 'production',
      runner_id: 1,
      runner_environment: 'gitlab-hosted',
    },
  },
  kubernetes: {
    sub: 'system:serviceaccount:apps:deployer',
    claims: {
      'kubernetes.io': {
        namespace: 'apps',
        serviceaccount: { name: 'deployer', uid: '00000000-0000-4000-8000-000000000001' },
        pod: { name: 'deployer-0', uid: '00000000-0000-4000-8000-000000000002' },
      },
    },
  },
  azure: {
    sub: '00000000-0000-4000-8000-000000000003',
    claims: {
      oid: '00000000-0000-4000-8000-000000000003',
      tid: '00000000-0000-4000-8000-000000000004',
      appid: '00000000-0000-4000-8000-000000000005',
      ver: '2.0',
    },
  },
  'gcp-instance': GCP,
  gcp: GCP,
}
