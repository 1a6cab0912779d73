// Drives fhir-kit-client, unmodified, against a Bedside server; prints what it got as JSON.
// Called by tests/interop/test_fhir_kit_client.py with BEDSIDE_FHIR, BEDSIDE_TOKEN and
// BEDSIDE_PATIENT in the environment; the test checks the answers against the store.
import { Client } from 'fhir-kit-client';

const client = new Client({ baseUrl: process.env.BEDSIDE_FHIR, bearerToken: process.env.BEDSIDE_TOKEN });
const patient = process.env.BEDSIDE_PATIENT;
const ids = (bundle) => (bundle.entry || []).filter((e) => e.resource).map((e) => `${e.resource.resourceType}/${e.resource.id}`);

const out = {};
out.metadata = (await client.capabilityStatement()).fhirVersion;
out.compartment = ids(await client.compartmentSearch({
  resourceType: 'Observation',
  compartment: { resourceType: 'Patient', id: patient },
  searchParams: { _count: 100 },
}));
out.systemHistory = ids(await client.history({ options: {} }));
out.typeHistory = ids(await client.history({ resourceType: 'Observation' }));
out.instanceHistory = (await client.history({ resourceType: 'Patient', id: patient })).entry.length;
out.everything = ids(await client.operation({
  name: '$everything', resourceType: 'Patient', id: patient, method: 'GET', input: { _count: 1000 },
}));
const patched = await client.patch({
  resourceType: 'Patient', id: patient,
  jsonPatch: [{ op: 'replace', path: '/active', value: false }],
});
out.patchedActive = patched.active;
try {
  await client.operation({ name: '$export', method: 'GET' });
  out.exportWithoutPrefer = 'answered';
} catch (err) {
  out.exportWithoutPrefer = err.response ? err.response.status : String(err);
}
process.stdout.write(JSON.stringify(out));
