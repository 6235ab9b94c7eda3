// The request sequences Entra ID and Okta document sending (test/fixtures/scim/*.json), each step
// with what the resource must look like after it.
import { readFileSync } from 'node:fs';

export interface ScimStep {
  doc: string;
  request: { method: 'GET' | 'POST' | 'PUT' | 'PATCH'; path: string; query?: Record<string, string>; body?: unknown };
  expect: {
    resource?: Record<string, unknown>;
    absent?: string[];
    matches?: boolean;
    startIndex?: number;
    count?: number;
    projected?: string[];
    error?: { status: number; scimType: string };
  };
}

export interface ScimFixture {
  source: string[];
  sequences: { resourceType: 'User' | 'Group'; id: string; steps: ScimStep[] }[];
}

export const loadScimFixture = (name: 'entra-id.json' | 'okta.json') =>
  JSON.parse(readFileSync(new URL(`../fixtures/scim/${name}`, import.meta.url), 'utf8')) as ScimFixture;
