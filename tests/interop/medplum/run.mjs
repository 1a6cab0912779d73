// Drives @medplum/core's MedplumClient, unmodified, against a Bedside server; prints what it got
// as JSON. Called by tests/interop/test_medplum_client.py with BEDSIDE_FHIR (the FHIR base URL)
// and BEDSIDE_TOKEN in the environment; the test checks the answers against the store.
import { MedplumClient } from '@medplum/core';

const fhir = new URL(process.env.BEDSIDE_FHIR.replace(/\/?$/, '/'));
const medplum = new MedplumClient({
  baseUrl: `${fhir.protocol}//${fhir.host}/`,
  fhirUrlPath: fhir.pathname.replace(/^\/|\/$/g, ''),
  cacheTime: 0, // every read goes to the server, so the test sees what Bedside answers
});
medplum.setAccessToken(process.env.BEDSIDE_TOKEN);

const status = async (promise) => {
  try {
    await promise;
    return 'answered';
  } catch (err) {
    return err.outcome?.issue?.[0]?.code ?? String(err);
  }
};

const out = {};
const created = await medplum.createResource({
  resourceType: 'Patient',
  name: [{ family: 'Medplumtest', given: ['Ada'] }],
  birthDate: '1970-01-02',
  active: true,
});
out.created = { id: created.id, versionId: created.meta?.versionId };
const read = await medplum.readResource('Patient', created.id);
out.read = { family: read.name[0].family, birthDate: read.birthDate };
const updated = await medplum.updateResource({ ...read, active: false });
out.updated = { active: updated.active, versionId: updated.meta?.versionId };
const found = await medplum.searchResources('Patient', { family: 'medplumtest', _count: 10 });
out.search = found.map((p) => p.id);
const bundle = await medplum.search('Observation', 'subject=Patient/' + created.id);
out.observationsBundle = { type: bundle.type, total: bundle.total ?? null };
out.searchOne = (await medplum.searchOne('Patient', { birthdate: '1970-01-02' }))?.id ?? null;
out.unknownParameter = await status(medplum.searchResources('Patient', { nonsense: 'x' }));
out.missing = await status(medplum.readResource('Patient', 'does-not-exist'));
process.stdout.write(JSON.stringify(out));
