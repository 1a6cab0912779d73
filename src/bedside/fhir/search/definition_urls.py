"""Search parameter definition URLs per type (R4 4.0.1, HL7, CC0). GENERATED.

Made by ``scripts/generate_definition_urls.py`` from ``search-parameters.json``; do not edit by
hand. ``DEFINITIONS[type][code]`` is the SearchParameter id; its URL is ``PREFIX + id``.
Parameters of ``Resource`` and ``DomainResource`` apply to every type. ``TARGETS[id]`` lists the
resource types a reference parameter may point at (chained search uses it); ``()`` means any.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFINITIONS", "PREFIX", "TARGETS"]

PREFIX: Final = "http://hl7.org/fhir/SearchParameter/"


def _pairs(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split())


def _types(text: str) -> tuple[str, ...]:
    return tuple(text.split())


DEFINITIONS: Final[dict[str, dict[str, str]]] = {
    "Account": _pairs(
        "identifier=Account-identifier name=Account-name owner=Account-owner "
        "patient=Account-patient period=Account-period status=Account-status "
        "subject=Account-subject type=Account-type "
    ),
    "ActivityDefinition": _pairs(
        "composed-of=ActivityDefinition-composed-of context=ActivityDefinition-context "
        "context-quantity=ActivityDefinition-context-quantity "
        "context-type=ActivityDefinition-context-type "
        "context-type-quantity=ActivityDefinition-context-type-quantity "
        "context-type-value=ActivityDefinition-context-type-value "
        "date=ActivityDefinition-date depends-on=ActivityDefinition-depends-on "
        "derived-from=ActivityDefinition-derived-from "
        "description=ActivityDefinition-description "
        "effective=ActivityDefinition-effective identifier=ActivityDefinition-identifier "
        "jurisdiction=ActivityDefinition-jurisdiction name=ActivityDefinition-name "
        "predecessor=ActivityDefinition-predecessor "
        "publisher=ActivityDefinition-publisher status=ActivityDefinition-status "
        "successor=ActivityDefinition-successor title=ActivityDefinition-title "
        "topic=ActivityDefinition-topic url=ActivityDefinition-url "
        "version=ActivityDefinition-version "
    ),
    "AdverseEvent": _pairs(
        "actuality=AdverseEvent-actuality category=AdverseEvent-category "
        "date=AdverseEvent-date event=AdverseEvent-event location=AdverseEvent-location "
        "recorder=AdverseEvent-recorder "
        "resultingcondition=AdverseEvent-resultingcondition "
        "seriousness=AdverseEvent-seriousness severity=AdverseEvent-severity "
        "study=AdverseEvent-study subject=AdverseEvent-subject "
        "substance=AdverseEvent-substance "
    ),
    "AllergyIntolerance": _pairs(
        "asserter=AllergyIntolerance-asserter category=AllergyIntolerance-category "
        "clinical-status=AllergyIntolerance-clinical-status code=clinical-code "
        "criticality=AllergyIntolerance-criticality date=clinical-date "
        "identifier=clinical-identifier last-date=AllergyIntolerance-last-date "
        "manifestation=AllergyIntolerance-manifestation onset=AllergyIntolerance-onset "
        "patient=clinical-patient recorder=AllergyIntolerance-recorder "
        "route=AllergyIntolerance-route severity=AllergyIntolerance-severity "
        "type=clinical-type verification-status=AllergyIntolerance-verification-status "
    ),
    "Appointment": _pairs(
        "actor=Appointment-actor appointment-type=Appointment-appointment-type "
        "based-on=Appointment-based-on date=Appointment-date "
        "identifier=Appointment-identifier location=Appointment-location "
        "part-status=Appointment-part-status patient=Appointment-patient "
        "practitioner=Appointment-practitioner reason-code=Appointment-reason-code "
        "reason-reference=Appointment-reason-reference "
        "service-category=Appointment-service-category "
        "service-type=Appointment-service-type slot=Appointment-slot "
        "specialty=Appointment-specialty status=Appointment-status "
        "supporting-info=Appointment-supporting-info "
    ),
    "AppointmentResponse": _pairs(
        "actor=AppointmentResponse-actor appointment=AppointmentResponse-appointment "
        "identifier=AppointmentResponse-identifier location=AppointmentResponse-location "
        "part-status=AppointmentResponse-part-status patient=AppointmentResponse-patient "
        "practitioner=AppointmentResponse-practitioner "
    ),
    "AuditEvent": _pairs(
        "action=AuditEvent-action address=AuditEvent-address agent=AuditEvent-agent "
        "agent-name=AuditEvent-agent-name agent-role=AuditEvent-agent-role "
        "altid=AuditEvent-altid date=AuditEvent-date entity=AuditEvent-entity "
        "entity-name=AuditEvent-entity-name entity-role=AuditEvent-entity-role "
        "entity-type=AuditEvent-entity-type outcome=AuditEvent-outcome "
        "patient=AuditEvent-patient policy=AuditEvent-policy site=AuditEvent-site "
        "source=AuditEvent-source subtype=AuditEvent-subtype type=AuditEvent-type "
    ),
    "Basic": _pairs(
        "author=Basic-author code=Basic-code created=Basic-created "
        "identifier=Basic-identifier patient=Basic-patient subject=Basic-subject "
    ),
    "BodyStructure": _pairs(
        "identifier=BodyStructure-identifier location=BodyStructure-location "
        "morphology=BodyStructure-morphology patient=BodyStructure-patient "
    ),
    "Bundle": _pairs(
        "composition=Bundle-composition identifier=Bundle-identifier "
        "message=Bundle-message timestamp=Bundle-timestamp type=Bundle-type "
    ),
    "CapabilityStatement": _pairs(
        "context=conformance-context context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "description=conformance-description fhirversion=CapabilityStatement-fhirversion "
        "format=CapabilityStatement-format guide=CapabilityStatement-guide "
        "jurisdiction=conformance-jurisdiction mode=CapabilityStatement-mode "
        "name=conformance-name publisher=conformance-publisher "
        "resource=CapabilityStatement-resource "
        "resource-profile=CapabilityStatement-resource-profile "
        "security-service=CapabilityStatement-security-service "
        "software=CapabilityStatement-software status=conformance-status "
        "supported-profile=CapabilityStatement-supported-profile title=conformance-title "
        "url=conformance-url version=conformance-version "
    ),
    "CarePlan": _pairs(
        "activity-code=CarePlan-activity-code activity-date=CarePlan-activity-date "
        "activity-reference=CarePlan-activity-reference based-on=CarePlan-based-on "
        "care-team=CarePlan-care-team category=CarePlan-category "
        "condition=CarePlan-condition date=clinical-date encounter=CarePlan-encounter "
        "goal=CarePlan-goal identifier=clinical-identifier "
        "instantiates-canonical=CarePlan-instantiates-canonical "
        "instantiates-uri=CarePlan-instantiates-uri intent=CarePlan-intent "
        "part-of=CarePlan-part-of patient=clinical-patient performer=CarePlan-performer "
        "replaces=CarePlan-replaces status=CarePlan-status subject=CarePlan-subject "
    ),
    "CareTeam": _pairs(
        "category=CareTeam-category date=clinical-date encounter=CareTeam-encounter "
        "identifier=clinical-identifier participant=CareTeam-participant "
        "patient=clinical-patient status=CareTeam-status subject=CareTeam-subject "
    ),
    "ChargeItem": _pairs(
        "account=ChargeItem-account code=ChargeItem-code context=ChargeItem-context "
        "entered-date=ChargeItem-entered-date enterer=ChargeItem-enterer "
        "factor-override=ChargeItem-factor-override identifier=ChargeItem-identifier "
        "occurrence=ChargeItem-occurrence patient=ChargeItem-patient "
        "performer-actor=ChargeItem-performer-actor "
        "performer-function=ChargeItem-performer-function "
        "performing-organization=ChargeItem-performing-organization "
        "price-override=ChargeItem-price-override quantity=ChargeItem-quantity "
        "requesting-organization=ChargeItem-requesting-organization "
        "service=ChargeItem-service subject=ChargeItem-subject "
    ),
    "ChargeItemDefinition": _pairs(
        "context=ChargeItemDefinition-context "
        "context-quantity=ChargeItemDefinition-context-quantity "
        "context-type=ChargeItemDefinition-context-type "
        "context-type-quantity=ChargeItemDefinition-context-type-quantity "
        "context-type-value=ChargeItemDefinition-context-type-value "
        "date=ChargeItemDefinition-date description=ChargeItemDefinition-description "
        "effective=ChargeItemDefinition-effective "
        "identifier=ChargeItemDefinition-identifier "
        "jurisdiction=ChargeItemDefinition-jurisdiction "
        "publisher=ChargeItemDefinition-publisher status=ChargeItemDefinition-status "
        "title=ChargeItemDefinition-title url=ChargeItemDefinition-url "
        "version=ChargeItemDefinition-version "
    ),
    "Claim": _pairs(
        "care-team=Claim-care-team created=Claim-created detail-udi=Claim-detail-udi "
        "encounter=Claim-encounter enterer=Claim-enterer facility=Claim-facility "
        "identifier=Claim-identifier insurer=Claim-insurer item-udi=Claim-item-udi "
        "patient=Claim-patient payee=Claim-payee priority=Claim-priority "
        "procedure-udi=Claim-procedure-udi provider=Claim-provider status=Claim-status "
        "subdetail-udi=Claim-subdetail-udi use=Claim-use "
    ),
    "ClaimResponse": _pairs(
        "created=ClaimResponse-created disposition=ClaimResponse-disposition "
        "identifier=ClaimResponse-identifier insurer=ClaimResponse-insurer "
        "outcome=ClaimResponse-outcome patient=ClaimResponse-patient "
        "payment-date=ClaimResponse-payment-date request=ClaimResponse-request "
        "requestor=ClaimResponse-requestor status=ClaimResponse-status "
        "use=ClaimResponse-use "
    ),
    "ClinicalImpression": _pairs(
        "assessor=ClinicalImpression-assessor date=clinical-date "
        "encounter=ClinicalImpression-encounter "
        "finding-code=ClinicalImpression-finding-code "
        "finding-ref=ClinicalImpression-finding-ref "
        "identifier=ClinicalImpression-identifier "
        "investigation=ClinicalImpression-investigation patient=clinical-patient "
        "previous=ClinicalImpression-previous problem=ClinicalImpression-problem "
        "status=ClinicalImpression-status subject=ClinicalImpression-subject "
        "supporting-info=ClinicalImpression-supporting-info "
    ),
    "CodeSystem": _pairs(
        "code=CodeSystem-code content-mode=CodeSystem-content-mode "
        "context=conformance-context context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "description=conformance-description identifier=conformance-identifier "
        "jurisdiction=conformance-jurisdiction language=CodeSystem-language "
        "name=conformance-name publisher=conformance-publisher status=conformance-status "
        "supplements=CodeSystem-supplements system=CodeSystem-system "
        "title=conformance-title url=conformance-url version=conformance-version "
    ),
    "Communication": _pairs(
        "based-on=Communication-based-on category=Communication-category "
        "encounter=Communication-encounter identifier=Communication-identifier "
        "instantiates-canonical=Communication-instantiates-canonical "
        "instantiates-uri=Communication-instantiates-uri medium=Communication-medium "
        "part-of=Communication-part-of patient=Communication-patient "
        "received=Communication-received recipient=Communication-recipient "
        "sender=Communication-sender sent=Communication-sent status=Communication-status "
        "subject=Communication-subject "
    ),
    "CommunicationRequest": _pairs(
        "authored=CommunicationRequest-authored based-on=CommunicationRequest-based-on "
        "category=CommunicationRequest-category encounter=CommunicationRequest-encounter "
        "group-identifier=CommunicationRequest-group-identifier "
        "identifier=CommunicationRequest-identifier medium=CommunicationRequest-medium "
        "occurrence=CommunicationRequest-occurrence patient=CommunicationRequest-patient "
        "priority=CommunicationRequest-priority recipient=CommunicationRequest-recipient "
        "replaces=CommunicationRequest-replaces requester=CommunicationRequest-requester "
        "sender=CommunicationRequest-sender status=CommunicationRequest-status "
        "subject=CommunicationRequest-subject "
    ),
    "CompartmentDefinition": _pairs(
        "code=CompartmentDefinition-code context=conformance-context "
        "context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "description=conformance-description name=conformance-name "
        "publisher=conformance-publisher resource=CompartmentDefinition-resource "
        "status=conformance-status url=conformance-url version=conformance-version "
    ),
    "Composition": _pairs(
        "attester=Composition-attester author=Composition-author "
        "category=Composition-category confidentiality=Composition-confidentiality "
        "context=Composition-context date=clinical-date encounter=clinical-encounter "
        "entry=Composition-entry identifier=clinical-identifier patient=clinical-patient "
        "period=Composition-period related-id=Composition-related-id "
        "related-ref=Composition-related-ref section=Composition-section "
        "status=Composition-status subject=Composition-subject title=Composition-title "
        "type=clinical-type "
    ),
    "ConceptMap": _pairs(
        "context=conformance-context context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "dependson=ConceptMap-dependson description=conformance-description "
        "identifier=conformance-identifier jurisdiction=conformance-jurisdiction "
        "name=conformance-name other=ConceptMap-other product=ConceptMap-product "
        "publisher=conformance-publisher source=ConceptMap-source "
        "source-code=ConceptMap-source-code source-system=ConceptMap-source-system "
        "source-uri=ConceptMap-source-uri status=conformance-status "
        "target=ConceptMap-target target-code=ConceptMap-target-code "
        "target-system=ConceptMap-target-system target-uri=ConceptMap-target-uri "
        "title=conformance-title url=conformance-url version=conformance-version "
    ),
    "Condition": _pairs(
        "abatement-age=Condition-abatement-age abatement-date=Condition-abatement-date "
        "abatement-string=Condition-abatement-string asserter=Condition-asserter "
        "body-site=Condition-body-site category=Condition-category "
        "clinical-status=Condition-clinical-status code=clinical-code "
        "encounter=Condition-encounter evidence=Condition-evidence "
        "evidence-detail=Condition-evidence-detail identifier=clinical-identifier "
        "onset-age=Condition-onset-age onset-date=Condition-onset-date "
        "onset-info=Condition-onset-info patient=clinical-patient "
        "recorded-date=Condition-recorded-date severity=Condition-severity "
        "stage=Condition-stage subject=Condition-subject "
        "verification-status=Condition-verification-status "
    ),
    "Consent": _pairs(
        "action=Consent-action actor=Consent-actor category=Consent-category "
        "consentor=Consent-consentor data=Consent-data date=clinical-date "
        "identifier=clinical-identifier organization=Consent-organization "
        "patient=clinical-patient period=Consent-period purpose=Consent-purpose "
        "scope=Consent-scope security-label=Consent-security-label "
        "source-reference=Consent-source-reference status=Consent-status "
    ),
    "Contract": _pairs(
        "authority=Contract-authority domain=Contract-domain "
        "identifier=Contract-identifier instantiates=Contract-instantiates "
        "issued=Contract-issued patient=Contract-patient signer=Contract-signer "
        "status=Contract-status subject=Contract-subject url=Contract-url "
    ),
    "Coverage": _pairs(
        "beneficiary=Coverage-beneficiary class-type=Coverage-class-type "
        "class-value=Coverage-class-value dependent=Coverage-dependent "
        "identifier=Coverage-identifier patient=Coverage-patient payor=Coverage-payor "
        "policy-holder=Coverage-policy-holder status=Coverage-status "
        "subscriber=Coverage-subscriber type=Coverage-type "
    ),
    "CoverageEligibilityRequest": _pairs(
        "created=CoverageEligibilityRequest-created "
        "enterer=CoverageEligibilityRequest-enterer "
        "facility=CoverageEligibilityRequest-facility "
        "identifier=CoverageEligibilityRequest-identifier "
        "patient=CoverageEligibilityRequest-patient "
        "provider=CoverageEligibilityRequest-provider "
        "status=CoverageEligibilityRequest-status "
    ),
    "CoverageEligibilityResponse": _pairs(
        "created=CoverageEligibilityResponse-created "
        "disposition=CoverageEligibilityResponse-disposition "
        "identifier=CoverageEligibilityResponse-identifier "
        "insurer=CoverageEligibilityResponse-insurer "
        "outcome=CoverageEligibilityResponse-outcome "
        "patient=CoverageEligibilityResponse-patient "
        "request=CoverageEligibilityResponse-request "
        "requestor=CoverageEligibilityResponse-requestor "
        "status=CoverageEligibilityResponse-status "
    ),
    "DetectedIssue": _pairs(
        "author=DetectedIssue-author code=DetectedIssue-code "
        "identified=DetectedIssue-identified identifier=clinical-identifier "
        "implicated=DetectedIssue-implicated patient=clinical-patient "
        "status=DetectedIssue-status "
    ),
    "Device": _pairs(
        "device-name=Device-device-name identifier=Device-identifier "
        "location=Device-location manufacturer=Device-manufacturer model=Device-model "
        "organization=Device-organization patient=Device-patient status=Device-status "
        "type=Device-type udi-carrier=Device-udi-carrier udi-di=Device-udi-di "
        "url=Device-url "
    ),
    "DeviceDefinition": _pairs(
        "classification=DeviceDefinition-classification "
        "identifier=DeviceDefinition-identifier parent=DeviceDefinition-parent "
        "type=DeviceDefinition-type "
    ),
    "DeviceMetric": _pairs(
        "category=DeviceMetric-category identifier=DeviceMetric-identifier "
        "parent=DeviceMetric-parent source=DeviceMetric-source type=DeviceMetric-type "
    ),
    "DeviceRequest": _pairs(
        "authored-on=DeviceRequest-authored-on based-on=DeviceRequest-based-on "
        "code=clinical-code device=DeviceRequest-device encounter=clinical-encounter "
        "event-date=DeviceRequest-event-date "
        "group-identifier=DeviceRequest-group-identifier identifier=clinical-identifier "
        "instantiates-canonical=DeviceRequest-instantiates-canonical "
        "instantiates-uri=DeviceRequest-instantiates-uri "
        "insurance=DeviceRequest-insurance intent=DeviceRequest-intent "
        "patient=clinical-patient performer=DeviceRequest-performer "
        "prior-request=DeviceRequest-prior-request requester=DeviceRequest-requester "
        "status=DeviceRequest-status subject=DeviceRequest-subject "
    ),
    "DeviceUseStatement": _pairs(
        "device=DeviceUseStatement-device identifier=DeviceUseStatement-identifier "
        "patient=clinical-patient subject=DeviceUseStatement-subject "
    ),
    "DiagnosticReport": _pairs(
        "based-on=DiagnosticReport-based-on category=DiagnosticReport-category "
        "code=clinical-code conclusion=DiagnosticReport-conclusion date=clinical-date "
        "encounter=clinical-encounter identifier=clinical-identifier "
        "issued=DiagnosticReport-issued media=DiagnosticReport-media "
        "patient=clinical-patient performer=DiagnosticReport-performer "
        "result=DiagnosticReport-result "
        "results-interpreter=DiagnosticReport-results-interpreter "
        "specimen=DiagnosticReport-specimen status=DiagnosticReport-status "
        "subject=DiagnosticReport-subject "
    ),
    "DocumentManifest": _pairs(
        "author=DocumentManifest-author created=DocumentManifest-created "
        "description=DocumentManifest-description identifier=clinical-identifier "
        "item=DocumentManifest-item patient=clinical-patient "
        "recipient=DocumentManifest-recipient related-id=DocumentManifest-related-id "
        "related-ref=DocumentManifest-related-ref source=DocumentManifest-source "
        "status=DocumentManifest-status subject=DocumentManifest-subject "
        "type=clinical-type "
    ),
    "DocumentReference": _pairs(
        "authenticator=DocumentReference-authenticator author=DocumentReference-author "
        "category=DocumentReference-category contenttype=DocumentReference-contenttype "
        "custodian=DocumentReference-custodian date=DocumentReference-date "
        "description=DocumentReference-description encounter=clinical-encounter "
        "event=DocumentReference-event facility=DocumentReference-facility "
        "format=DocumentReference-format identifier=clinical-identifier "
        "language=DocumentReference-language location=DocumentReference-location "
        "patient=clinical-patient period=DocumentReference-period "
        "related=DocumentReference-related relatesto=DocumentReference-relatesto "
        "relation=DocumentReference-relation relationship=DocumentReference-relationship "
        "security-label=DocumentReference-security-label "
        "setting=DocumentReference-setting status=DocumentReference-status "
        "subject=DocumentReference-subject type=clinical-type "
    ),
    "DomainResource": _pairs("_text=DomainResource-text "),
    "EffectEvidenceSynthesis": _pairs(
        "context=EffectEvidenceSynthesis-context "
        "context-quantity=EffectEvidenceSynthesis-context-quantity "
        "context-type=EffectEvidenceSynthesis-context-type "
        "context-type-quantity=EffectEvidenceSynthesis-context-type-quantity "
        "context-type-value=EffectEvidenceSynthesis-context-type-value "
        "date=EffectEvidenceSynthesis-date "
        "description=EffectEvidenceSynthesis-description "
        "effective=EffectEvidenceSynthesis-effective "
        "identifier=EffectEvidenceSynthesis-identifier "
        "jurisdiction=EffectEvidenceSynthesis-jurisdiction "
        "name=EffectEvidenceSynthesis-name publisher=EffectEvidenceSynthesis-publisher "
        "status=EffectEvidenceSynthesis-status title=EffectEvidenceSynthesis-title "
        "url=EffectEvidenceSynthesis-url version=EffectEvidenceSynthesis-version "
    ),
    "Encounter": _pairs(
        "account=Encounter-account appointment=Encounter-appointment "
        "based-on=Encounter-based-on class=Encounter-class date=clinical-date "
        "diagnosis=Encounter-diagnosis episode-of-care=Encounter-episode-of-care "
        "identifier=clinical-identifier length=Encounter-length "
        "location=Encounter-location location-period=Encounter-location-period "
        "part-of=Encounter-part-of participant=Encounter-participant "
        "participant-type=Encounter-participant-type patient=clinical-patient "
        "practitioner=Encounter-practitioner reason-code=Encounter-reason-code "
        "reason-reference=Encounter-reason-reference "
        "service-provider=Encounter-service-provider "
        "special-arrangement=Encounter-special-arrangement status=Encounter-status "
        "subject=Encounter-subject type=clinical-type "
    ),
    "Endpoint": _pairs(
        "connection-type=Endpoint-connection-type identifier=Endpoint-identifier "
        "name=Endpoint-name organization=Endpoint-organization "
        "payload-type=Endpoint-payload-type status=Endpoint-status "
    ),
    "EnrollmentRequest": _pairs(
        "identifier=EnrollmentRequest-identifier patient=EnrollmentRequest-patient "
        "status=EnrollmentRequest-status subject=EnrollmentRequest-subject "
    ),
    "EnrollmentResponse": _pairs(
        "identifier=EnrollmentResponse-identifier request=EnrollmentResponse-request "
        "status=EnrollmentResponse-status "
    ),
    "EpisodeOfCare": _pairs(
        "care-manager=EpisodeOfCare-care-manager condition=EpisodeOfCare-condition "
        "date=clinical-date identifier=clinical-identifier "
        "incoming-referral=EpisodeOfCare-incoming-referral "
        "organization=EpisodeOfCare-organization patient=clinical-patient "
        "status=EpisodeOfCare-status type=clinical-type "
    ),
    "EventDefinition": _pairs(
        "composed-of=EventDefinition-composed-of context=EventDefinition-context "
        "context-quantity=EventDefinition-context-quantity "
        "context-type=EventDefinition-context-type "
        "context-type-quantity=EventDefinition-context-type-quantity "
        "context-type-value=EventDefinition-context-type-value date=EventDefinition-date "
        "depends-on=EventDefinition-depends-on derived-from=EventDefinition-derived-from "
        "description=EventDefinition-description effective=EventDefinition-effective "
        "identifier=EventDefinition-identifier jurisdiction=EventDefinition-jurisdiction "
        "name=EventDefinition-name predecessor=EventDefinition-predecessor "
        "publisher=EventDefinition-publisher status=EventDefinition-status "
        "successor=EventDefinition-successor title=EventDefinition-title "
        "topic=EventDefinition-topic url=EventDefinition-url "
        "version=EventDefinition-version "
    ),
    "Evidence": _pairs(
        "composed-of=Evidence-composed-of context=Evidence-context "
        "context-quantity=Evidence-context-quantity context-type=Evidence-context-type "
        "context-type-quantity=Evidence-context-type-quantity "
        "context-type-value=Evidence-context-type-value date=Evidence-date "
        "depends-on=Evidence-depends-on derived-from=Evidence-derived-from "
        "description=Evidence-description effective=Evidence-effective "
        "identifier=Evidence-identifier jurisdiction=Evidence-jurisdiction "
        "name=Evidence-name predecessor=Evidence-predecessor publisher=Evidence-publisher "
        "status=Evidence-status successor=Evidence-successor title=Evidence-title "
        "topic=Evidence-topic url=Evidence-url version=Evidence-version "
    ),
    "EvidenceVariable": _pairs(
        "composed-of=EvidenceVariable-composed-of context=EvidenceVariable-context "
        "context-quantity=EvidenceVariable-context-quantity "
        "context-type=EvidenceVariable-context-type "
        "context-type-quantity=EvidenceVariable-context-type-quantity "
        "context-type-value=EvidenceVariable-context-type-value "
        "date=EvidenceVariable-date depends-on=EvidenceVariable-depends-on "
        "derived-from=EvidenceVariable-derived-from "
        "description=EvidenceVariable-description effective=EvidenceVariable-effective "
        "identifier=EvidenceVariable-identifier "
        "jurisdiction=EvidenceVariable-jurisdiction name=EvidenceVariable-name "
        "predecessor=EvidenceVariable-predecessor publisher=EvidenceVariable-publisher "
        "status=EvidenceVariable-status successor=EvidenceVariable-successor "
        "title=EvidenceVariable-title topic=EvidenceVariable-topic "
        "url=EvidenceVariable-url version=EvidenceVariable-version "
    ),
    "ExampleScenario": _pairs(
        "context=ExampleScenario-context "
        "context-quantity=ExampleScenario-context-quantity "
        "context-type=ExampleScenario-context-type "
        "context-type-quantity=ExampleScenario-context-type-quantity "
        "context-type-value=ExampleScenario-context-type-value date=ExampleScenario-date "
        "identifier=ExampleScenario-identifier jurisdiction=ExampleScenario-jurisdiction "
        "name=ExampleScenario-name publisher=ExampleScenario-publisher "
        "status=ExampleScenario-status url=ExampleScenario-url "
        "version=ExampleScenario-version "
    ),
    "ExplanationOfBenefit": _pairs(
        "care-team=ExplanationOfBenefit-care-team claim=ExplanationOfBenefit-claim "
        "coverage=ExplanationOfBenefit-coverage created=ExplanationOfBenefit-created "
        "detail-udi=ExplanationOfBenefit-detail-udi "
        "disposition=ExplanationOfBenefit-disposition "
        "encounter=ExplanationOfBenefit-encounter enterer=ExplanationOfBenefit-enterer "
        "facility=ExplanationOfBenefit-facility "
        "identifier=ExplanationOfBenefit-identifier "
        "item-udi=ExplanationOfBenefit-item-udi patient=ExplanationOfBenefit-patient "
        "payee=ExplanationOfBenefit-payee "
        "procedure-udi=ExplanationOfBenefit-procedure-udi "
        "provider=ExplanationOfBenefit-provider status=ExplanationOfBenefit-status "
        "subdetail-udi=ExplanationOfBenefit-subdetail-udi "
    ),
    "FamilyMemberHistory": _pairs(
        "code=clinical-code date=clinical-date identifier=clinical-identifier "
        "instantiates-canonical=FamilyMemberHistory-instantiates-canonical "
        "instantiates-uri=FamilyMemberHistory-instantiates-uri patient=clinical-patient "
        "relationship=FamilyMemberHistory-relationship sex=FamilyMemberHistory-sex "
        "status=FamilyMemberHistory-status "
    ),
    "Flag": _pairs(
        "author=Flag-author date=clinical-date encounter=clinical-encounter "
        "identifier=Flag-identifier patient=clinical-patient subject=Flag-subject "
    ),
    "Goal": _pairs(
        "achievement-status=Goal-achievement-status category=Goal-category "
        "identifier=clinical-identifier lifecycle-status=Goal-lifecycle-status "
        "patient=clinical-patient start-date=Goal-start-date subject=Goal-subject "
        "target-date=Goal-target-date "
    ),
    "GraphDefinition": _pairs(
        "context=conformance-context context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "description=conformance-description jurisdiction=conformance-jurisdiction "
        "name=conformance-name publisher=conformance-publisher "
        "start=GraphDefinition-start status=conformance-status url=conformance-url "
        "version=conformance-version "
    ),
    "Group": _pairs(
        "actual=Group-actual characteristic=Group-characteristic "
        "characteristic-value=Group-characteristic-value code=Group-code "
        "exclude=Group-exclude identifier=Group-identifier "
        "managing-entity=Group-managing-entity member=Group-member type=Group-type "
        "value=Group-value "
    ),
    "GuidanceResponse": _pairs(
        "identifier=GuidanceResponse-identifier patient=GuidanceResponse-patient "
        "request=GuidanceResponse-request subject=GuidanceResponse-subject "
    ),
    "HealthcareService": _pairs(
        "active=HealthcareService-active characteristic=HealthcareService-characteristic "
        "coverage-area=HealthcareService-coverage-area "
        "endpoint=HealthcareService-endpoint identifier=HealthcareService-identifier "
        "location=HealthcareService-location name=HealthcareService-name "
        "organization=HealthcareService-organization program=HealthcareService-program "
        "service-category=HealthcareService-service-category "
        "service-type=HealthcareService-service-type "
        "specialty=HealthcareService-specialty "
    ),
    "ImagingStudy": _pairs(
        "basedon=ImagingStudy-basedon bodysite=ImagingStudy-bodysite "
        "dicom-class=ImagingStudy-dicom-class encounter=ImagingStudy-encounter "
        "endpoint=ImagingStudy-endpoint identifier=clinical-identifier "
        "instance=ImagingStudy-instance interpreter=ImagingStudy-interpreter "
        "modality=ImagingStudy-modality patient=clinical-patient "
        "performer=ImagingStudy-performer reason=ImagingStudy-reason "
        "referrer=ImagingStudy-referrer series=ImagingStudy-series "
        "started=ImagingStudy-started status=ImagingStudy-status "
        "subject=ImagingStudy-subject "
    ),
    "Immunization": _pairs(
        "date=clinical-date identifier=clinical-identifier location=Immunization-location "
        "lot-number=Immunization-lot-number manufacturer=Immunization-manufacturer "
        "patient=clinical-patient performer=Immunization-performer "
        "reaction=Immunization-reaction reaction-date=Immunization-reaction-date "
        "reason-code=Immunization-reason-code "
        "reason-reference=Immunization-reason-reference series=Immunization-series "
        "status=Immunization-status status-reason=Immunization-status-reason "
        "target-disease=Immunization-target-disease "
        "vaccine-code=Immunization-vaccine-code "
    ),
    "ImmunizationEvaluation": _pairs(
        "date=ImmunizationEvaluation-date dose-status=ImmunizationEvaluation-dose-status "
        "identifier=ImmunizationEvaluation-identifier "
        "immunization-event=ImmunizationEvaluation-immunization-event "
        "patient=ImmunizationEvaluation-patient status=ImmunizationEvaluation-status "
        "target-disease=ImmunizationEvaluation-target-disease "
    ),
    "ImmunizationRecommendation": _pairs(
        "date=ImmunizationRecommendation-date "
        "identifier=ImmunizationRecommendation-identifier "
        "information=ImmunizationRecommendation-information "
        "patient=ImmunizationRecommendation-patient "
        "status=ImmunizationRecommendation-status "
        "support=ImmunizationRecommendation-support "
        "target-disease=ImmunizationRecommendation-target-disease "
        "vaccine-type=ImmunizationRecommendation-vaccine-type "
    ),
    "ImplementationGuide": _pairs(
        "context=conformance-context context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "depends-on=ImplementationGuide-depends-on description=conformance-description "
        "experimental=ImplementationGuide-experimental global=ImplementationGuide-global "
        "jurisdiction=conformance-jurisdiction name=conformance-name "
        "publisher=conformance-publisher resource=ImplementationGuide-resource "
        "status=conformance-status title=conformance-title url=conformance-url "
        "version=conformance-version "
    ),
    "InsurancePlan": _pairs(
        "address=InsurancePlan-address address-city=InsurancePlan-address-city "
        "address-country=InsurancePlan-address-country "
        "address-postalcode=InsurancePlan-address-postalcode "
        "address-state=InsurancePlan-address-state address-use=InsurancePlan-address-use "
        "administered-by=InsurancePlan-administered-by endpoint=InsurancePlan-endpoint "
        "identifier=InsurancePlan-identifier name=InsurancePlan-name "
        "owned-by=InsurancePlan-owned-by phonetic=InsurancePlan-phonetic "
        "status=InsurancePlan-status type=InsurancePlan-type "
    ),
    "Invoice": _pairs(
        "account=Invoice-account date=Invoice-date identifier=Invoice-identifier "
        "issuer=Invoice-issuer participant=Invoice-participant "
        "participant-role=Invoice-participant-role patient=Invoice-patient "
        "recipient=Invoice-recipient status=Invoice-status subject=Invoice-subject "
        "totalgross=Invoice-totalgross totalnet=Invoice-totalnet type=Invoice-type "
    ),
    "Library": _pairs(
        "composed-of=Library-composed-of content-type=Library-content-type "
        "context=Library-context context-quantity=Library-context-quantity "
        "context-type=Library-context-type "
        "context-type-quantity=Library-context-type-quantity "
        "context-type-value=Library-context-type-value date=Library-date "
        "depends-on=Library-depends-on derived-from=Library-derived-from "
        "description=Library-description effective=Library-effective "
        "identifier=Library-identifier jurisdiction=Library-jurisdiction "
        "name=Library-name predecessor=Library-predecessor publisher=Library-publisher "
        "status=Library-status successor=Library-successor title=Library-title "
        "topic=Library-topic type=Library-type url=Library-url version=Library-version "
    ),
    "Linkage": _pairs("author=Linkage-author item=Linkage-item source=Linkage-source "),
    "List": _pairs(
        "code=clinical-code date=clinical-date empty-reason=List-empty-reason "
        "encounter=clinical-encounter identifier=clinical-identifier item=List-item "
        "notes=List-notes patient=clinical-patient source=List-source status=List-status "
        "subject=List-subject title=List-title "
    ),
    "Location": _pairs(
        "address=Location-address address-city=Location-address-city "
        "address-country=Location-address-country "
        "address-postalcode=Location-address-postalcode "
        "address-state=Location-address-state address-use=Location-address-use "
        "endpoint=Location-endpoint identifier=Location-identifier name=Location-name "
        "near=Location-near operational-status=Location-operational-status "
        "organization=Location-organization partof=Location-partof status=Location-status "
        "type=Location-type "
    ),
    "Measure": _pairs(
        "composed-of=Measure-composed-of context=Measure-context "
        "context-quantity=Measure-context-quantity context-type=Measure-context-type "
        "context-type-quantity=Measure-context-type-quantity "
        "context-type-value=Measure-context-type-value date=Measure-date "
        "depends-on=Measure-depends-on derived-from=Measure-derived-from "
        "description=Measure-description effective=Measure-effective "
        "identifier=Measure-identifier jurisdiction=Measure-jurisdiction "
        "name=Measure-name predecessor=Measure-predecessor publisher=Measure-publisher "
        "status=Measure-status successor=Measure-successor title=Measure-title "
        "topic=Measure-topic url=Measure-url version=Measure-version "
    ),
    "MeasureReport": _pairs(
        "date=MeasureReport-date evaluated-resource=MeasureReport-evaluated-resource "
        "identifier=MeasureReport-identifier measure=MeasureReport-measure "
        "patient=MeasureReport-patient period=MeasureReport-period "
        "reporter=MeasureReport-reporter status=MeasureReport-status "
        "subject=MeasureReport-subject "
    ),
    "Media": _pairs(
        "based-on=Media-based-on created=Media-created device=Media-device "
        "encounter=Media-encounter identifier=Media-identifier modality=Media-modality "
        "operator=Media-operator patient=Media-patient site=Media-site "
        "status=Media-status subject=Media-subject type=Media-type view=Media-view "
    ),
    "Medication": _pairs(
        "code=clinical-code expiration-date=Medication-expiration-date "
        "form=Medication-form identifier=Medication-identifier "
        "ingredient=Medication-ingredient ingredient-code=Medication-ingredient-code "
        "lot-number=Medication-lot-number manufacturer=Medication-manufacturer "
        "status=Medication-status "
    ),
    "MedicationAdministration": _pairs(
        "code=clinical-code context=MedicationAdministration-context "
        "device=MedicationAdministration-device "
        "effective-time=MedicationAdministration-effective-time "
        "identifier=clinical-identifier medication=medications-medication "
        "patient=clinical-patient performer=MedicationAdministration-performer "
        "reason-given=MedicationAdministration-reason-given "
        "reason-not-given=MedicationAdministration-reason-not-given "
        "request=MedicationAdministration-request status=medications-status "
        "subject=MedicationAdministration-subject "
    ),
    "MedicationDispense": _pairs(
        "code=clinical-code context=MedicationDispense-context "
        "destination=MedicationDispense-destination identifier=clinical-identifier "
        "medication=medications-medication patient=clinical-patient "
        "performer=MedicationDispense-performer prescription=medications-prescription "
        "receiver=MedicationDispense-receiver "
        "responsibleparty=MedicationDispense-responsibleparty status=medications-status "
        "subject=MedicationDispense-subject type=MedicationDispense-type "
        "whenhandedover=MedicationDispense-whenhandedover "
        "whenprepared=MedicationDispense-whenprepared "
    ),
    "MedicationKnowledge": _pairs(
        "classification=MedicationKnowledge-classification "
        "classification-type=MedicationKnowledge-classification-type "
        "code=MedicationKnowledge-code doseform=MedicationKnowledge-doseform "
        "ingredient=MedicationKnowledge-ingredient "
        "ingredient-code=MedicationKnowledge-ingredient-code "
        "manufacturer=MedicationKnowledge-manufacturer "
        "monitoring-program-name=MedicationKnowledge-monitoring-program-name "
        "monitoring-program-type=MedicationKnowledge-monitoring-program-type "
        "monograph=MedicationKnowledge-monograph "
        "monograph-type=MedicationKnowledge-monograph-type "
        "source-cost=MedicationKnowledge-source-cost status=MedicationKnowledge-status "
    ),
    "MedicationRequest": _pairs(
        "authoredon=MedicationRequest-authoredon category=MedicationRequest-category "
        "code=clinical-code date=medications-date encounter=medications-encounter "
        "identifier=clinical-identifier "
        "intended-dispenser=MedicationRequest-intended-dispenser "
        "intended-performer=MedicationRequest-intended-performer "
        "intended-performertype=MedicationRequest-intended-performertype "
        "intent=MedicationRequest-intent medication=medications-medication "
        "patient=clinical-patient priority=MedicationRequest-priority "
        "requester=MedicationRequest-requester status=medications-status "
        "subject=MedicationRequest-subject "
    ),
    "MedicationStatement": _pairs(
        "category=MedicationStatement-category code=clinical-code "
        "context=MedicationStatement-context effective=MedicationStatement-effective "
        "identifier=clinical-identifier medication=medications-medication "
        "part-of=MedicationStatement-part-of patient=clinical-patient "
        "source=MedicationStatement-source status=medications-status "
        "subject=MedicationStatement-subject "
    ),
    "MedicinalProduct": _pairs(
        "identifier=MedicinalProduct-identifier name=MedicinalProduct-name "
        "name-language=MedicinalProduct-name-language "
    ),
    "MedicinalProductAuthorization": _pairs(
        "country=MedicinalProductAuthorization-country "
        "holder=MedicinalProductAuthorization-holder "
        "identifier=MedicinalProductAuthorization-identifier "
        "status=MedicinalProductAuthorization-status "
        "subject=MedicinalProductAuthorization-subject "
    ),
    "MedicinalProductContraindication": _pairs("subject=MedicinalProductContraindication-subject "),
    "MedicinalProductIndication": _pairs("subject=MedicinalProductIndication-subject "),
    "MedicinalProductInteraction": _pairs("subject=MedicinalProductInteraction-subject "),
    "MedicinalProductPackaged": _pairs(
        "identifier=MedicinalProductPackaged-identifier subject=MedicinalProductPackaged-subject "
    ),
    "MedicinalProductPharmaceutical": _pairs(
        "identifier=MedicinalProductPharmaceutical-identifier "
        "route=MedicinalProductPharmaceutical-route "
        "target-species=MedicinalProductPharmaceutical-target-species "
    ),
    "MedicinalProductUndesirableEffect": _pairs(
        "subject=MedicinalProductUndesirableEffect-subject "
    ),
    "MessageDefinition": _pairs(
        "category=MessageDefinition-category context=conformance-context "
        "context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "description=conformance-description event=MessageDefinition-event "
        "focus=MessageDefinition-focus identifier=conformance-identifier "
        "jurisdiction=conformance-jurisdiction name=conformance-name "
        "parent=MessageDefinition-parent publisher=conformance-publisher "
        "status=conformance-status title=conformance-title url=conformance-url "
        "version=conformance-version "
    ),
    "MessageHeader": _pairs(
        "author=MessageHeader-author code=MessageHeader-code "
        "destination=MessageHeader-destination "
        "destination-uri=MessageHeader-destination-uri enterer=MessageHeader-enterer "
        "event=MessageHeader-event focus=MessageHeader-focus "
        "receiver=MessageHeader-receiver response-id=MessageHeader-response-id "
        "responsible=MessageHeader-responsible sender=MessageHeader-sender "
        "source=MessageHeader-source source-uri=MessageHeader-source-uri "
        "target=MessageHeader-target "
    ),
    "MolecularSequence": _pairs(
        "chromosome=MolecularSequence-chromosome "
        "chromosome-variant-coordinate=MolecularSequence-chromosome-variant-coordinate "
        "chromosome-window-coordinate=MolecularSequence-chromosome-window-coordinate "
        "identifier=MolecularSequence-identifier patient=MolecularSequence-patient "
        "referenceseqid=MolecularSequence-referenceseqid "
        "referenceseqid-variant-coordinate=MolecularSequence-referenceseqid-variant-coordinate "
        "referenceseqid-window-coordinate=MolecularSequence-referenceseqid-window-coordinate "
        "type=MolecularSequence-type variant-end=MolecularSequence-variant-end "
        "variant-start=MolecularSequence-variant-start "
        "window-end=MolecularSequence-window-end "
        "window-start=MolecularSequence-window-start "
    ),
    "NamingSystem": _pairs(
        "contact=NamingSystem-contact context=conformance-context "
        "context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "description=conformance-description id-type=NamingSystem-id-type "
        "jurisdiction=conformance-jurisdiction kind=NamingSystem-kind "
        "name=conformance-name period=NamingSystem-period publisher=conformance-publisher "
        "responsible=NamingSystem-responsible status=conformance-status "
        "telecom=NamingSystem-telecom type=NamingSystem-type value=NamingSystem-value "
    ),
    "NutritionOrder": _pairs(
        "additive=NutritionOrder-additive datetime=NutritionOrder-datetime "
        "encounter=clinical-encounter formula=NutritionOrder-formula "
        "identifier=clinical-identifier "
        "instantiates-canonical=NutritionOrder-instantiates-canonical "
        "instantiates-uri=NutritionOrder-instantiates-uri "
        "oraldiet=NutritionOrder-oraldiet patient=clinical-patient "
        "provider=NutritionOrder-provider status=NutritionOrder-status "
        "supplement=NutritionOrder-supplement "
    ),
    "Observation": _pairs(
        "based-on=Observation-based-on category=Observation-category code=clinical-code "
        "code-value-concept=Observation-code-value-concept "
        "code-value-date=Observation-code-value-date "
        "code-value-quantity=Observation-code-value-quantity "
        "code-value-string=Observation-code-value-string "
        "combo-code=Observation-combo-code "
        "combo-code-value-concept=Observation-combo-code-value-concept "
        "combo-code-value-quantity=Observation-combo-code-value-quantity "
        "combo-data-absent-reason=Observation-combo-data-absent-reason "
        "combo-value-concept=Observation-combo-value-concept "
        "combo-value-quantity=Observation-combo-value-quantity "
        "component-code=Observation-component-code "
        "component-code-value-concept=Observation-component-code-value-concept "
        "component-code-value-quantity=Observation-component-code-value-quantity "
        "component-data-absent-reason=Observation-component-data-absent-reason "
        "component-value-concept=Observation-component-value-concept "
        "component-value-quantity=Observation-component-value-quantity "
        "data-absent-reason=Observation-data-absent-reason date=clinical-date "
        "derived-from=Observation-derived-from device=Observation-device "
        "encounter=clinical-encounter focus=Observation-focus "
        "has-member=Observation-has-member identifier=clinical-identifier "
        "method=Observation-method part-of=Observation-part-of patient=clinical-patient "
        "performer=Observation-performer specimen=Observation-specimen "
        "status=Observation-status subject=Observation-subject "
        "value-concept=Observation-value-concept value-date=Observation-value-date "
        "value-quantity=Observation-value-quantity value-string=Observation-value-string "
    ),
    "OperationDefinition": _pairs(
        "base=OperationDefinition-base code=OperationDefinition-code "
        "context=conformance-context context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "description=conformance-description "
        "input-profile=OperationDefinition-input-profile "
        "instance=OperationDefinition-instance jurisdiction=conformance-jurisdiction "
        "kind=OperationDefinition-kind name=conformance-name "
        "output-profile=OperationDefinition-output-profile "
        "publisher=conformance-publisher status=conformance-status "
        "system=OperationDefinition-system title=conformance-title "
        "type=OperationDefinition-type url=conformance-url version=conformance-version "
    ),
    "Organization": _pairs(
        "active=Organization-active address=Organization-address "
        "address-city=Organization-address-city "
        "address-country=Organization-address-country "
        "address-postalcode=Organization-address-postalcode "
        "address-state=Organization-address-state address-use=Organization-address-use "
        "endpoint=Organization-endpoint identifier=Organization-identifier "
        "name=Organization-name partof=Organization-partof phonetic=Organization-phonetic "
        "type=Organization-type "
    ),
    "OrganizationAffiliation": _pairs(
        "active=OrganizationAffiliation-active date=OrganizationAffiliation-date "
        "email=OrganizationAffiliation-email endpoint=OrganizationAffiliation-endpoint "
        "identifier=OrganizationAffiliation-identifier "
        "location=OrganizationAffiliation-location "
        "network=OrganizationAffiliation-network "
        "participating-organization=OrganizationAffiliation-participating-organization "
        "phone=OrganizationAffiliation-phone "
        "primary-organization=OrganizationAffiliation-primary-organization "
        "role=OrganizationAffiliation-role service=OrganizationAffiliation-service "
        "specialty=OrganizationAffiliation-specialty "
        "telecom=OrganizationAffiliation-telecom "
    ),
    "Patient": _pairs(
        "active=Patient-active address=individual-address "
        "address-city=individual-address-city address-country=individual-address-country "
        "address-postalcode=individual-address-postalcode "
        "address-state=individual-address-state address-use=individual-address-use "
        "birthdate=individual-birthdate death-date=Patient-death-date "
        "deceased=Patient-deceased email=individual-email family=individual-family "
        "gender=individual-gender general-practitioner=Patient-general-practitioner "
        "given=individual-given identifier=Patient-identifier language=Patient-language "
        "link=Patient-link name=Patient-name organization=Patient-organization "
        "phone=individual-phone phonetic=individual-phonetic telecom=individual-telecom "
    ),
    "PaymentNotice": _pairs(
        "created=PaymentNotice-created identifier=PaymentNotice-identifier "
        "payment-status=PaymentNotice-payment-status provider=PaymentNotice-provider "
        "request=PaymentNotice-request response=PaymentNotice-response "
        "status=PaymentNotice-status "
    ),
    "PaymentReconciliation": _pairs(
        "created=PaymentReconciliation-created "
        "disposition=PaymentReconciliation-disposition "
        "identifier=PaymentReconciliation-identifier "
        "outcome=PaymentReconciliation-outcome "
        "payment-issuer=PaymentReconciliation-payment-issuer "
        "request=PaymentReconciliation-request requestor=PaymentReconciliation-requestor "
        "status=PaymentReconciliation-status "
    ),
    "Person": _pairs(
        "address=individual-address address-city=individual-address-city "
        "address-country=individual-address-country "
        "address-postalcode=individual-address-postalcode "
        "address-state=individual-address-state address-use=individual-address-use "
        "birthdate=individual-birthdate email=individual-email gender=individual-gender "
        "identifier=Person-identifier link=Person-link name=Person-name "
        "organization=Person-organization patient=Person-patient phone=individual-phone "
        "phonetic=individual-phonetic practitioner=Person-practitioner "
        "relatedperson=Person-relatedperson telecom=individual-telecom "
    ),
    "PlanDefinition": _pairs(
        "composed-of=PlanDefinition-composed-of context=PlanDefinition-context "
        "context-quantity=PlanDefinition-context-quantity "
        "context-type=PlanDefinition-context-type "
        "context-type-quantity=PlanDefinition-context-type-quantity "
        "context-type-value=PlanDefinition-context-type-value date=PlanDefinition-date "
        "definition=PlanDefinition-definition depends-on=PlanDefinition-depends-on "
        "derived-from=PlanDefinition-derived-from description=PlanDefinition-description "
        "effective=PlanDefinition-effective identifier=PlanDefinition-identifier "
        "jurisdiction=PlanDefinition-jurisdiction name=PlanDefinition-name "
        "predecessor=PlanDefinition-predecessor publisher=PlanDefinition-publisher "
        "status=PlanDefinition-status successor=PlanDefinition-successor "
        "title=PlanDefinition-title topic=PlanDefinition-topic type=PlanDefinition-type "
        "url=PlanDefinition-url version=PlanDefinition-version "
    ),
    "Practitioner": _pairs(
        "active=Practitioner-active address=individual-address "
        "address-city=individual-address-city address-country=individual-address-country "
        "address-postalcode=individual-address-postalcode "
        "address-state=individual-address-state address-use=individual-address-use "
        "communication=Practitioner-communication email=individual-email "
        "family=individual-family gender=individual-gender given=individual-given "
        "identifier=Practitioner-identifier name=Practitioner-name phone=individual-phone "
        "phonetic=individual-phonetic telecom=individual-telecom "
    ),
    "PractitionerRole": _pairs(
        "active=PractitionerRole-active date=PractitionerRole-date email=individual-email "
        "endpoint=PractitionerRole-endpoint identifier=PractitionerRole-identifier "
        "location=PractitionerRole-location organization=PractitionerRole-organization "
        "phone=individual-phone practitioner=PractitionerRole-practitioner "
        "role=PractitionerRole-role service=PractitionerRole-service "
        "specialty=PractitionerRole-specialty telecom=individual-telecom "
    ),
    "Procedure": _pairs(
        "based-on=Procedure-based-on category=Procedure-category code=clinical-code "
        "date=clinical-date encounter=clinical-encounter identifier=clinical-identifier "
        "instantiates-canonical=Procedure-instantiates-canonical "
        "instantiates-uri=Procedure-instantiates-uri location=Procedure-location "
        "part-of=Procedure-part-of patient=clinical-patient performer=Procedure-performer "
        "reason-code=Procedure-reason-code reason-reference=Procedure-reason-reference "
        "status=Procedure-status subject=Procedure-subject "
    ),
    "Provenance": _pairs(
        "agent=Provenance-agent agent-role=Provenance-agent-role "
        "agent-type=Provenance-agent-type entity=Provenance-entity "
        "location=Provenance-location patient=Provenance-patient "
        "recorded=Provenance-recorded signature-type=Provenance-signature-type "
        "target=Provenance-target when=Provenance-when "
    ),
    "Questionnaire": _pairs(
        "code=Questionnaire-code context=Questionnaire-context "
        "context-quantity=Questionnaire-context-quantity "
        "context-type=Questionnaire-context-type "
        "context-type-quantity=Questionnaire-context-type-quantity "
        "context-type-value=Questionnaire-context-type-value date=Questionnaire-date "
        "definition=Questionnaire-definition description=Questionnaire-description "
        "effective=Questionnaire-effective identifier=Questionnaire-identifier "
        "jurisdiction=Questionnaire-jurisdiction name=Questionnaire-name "
        "publisher=Questionnaire-publisher status=Questionnaire-status "
        "subject-type=Questionnaire-subject-type title=Questionnaire-title "
        "url=Questionnaire-url version=Questionnaire-version "
    ),
    "QuestionnaireResponse": _pairs(
        "author=QuestionnaireResponse-author authored=QuestionnaireResponse-authored "
        "based-on=QuestionnaireResponse-based-on "
        "encounter=QuestionnaireResponse-encounter "
        "identifier=QuestionnaireResponse-identifier "
        "part-of=QuestionnaireResponse-part-of patient=QuestionnaireResponse-patient "
        "questionnaire=QuestionnaireResponse-questionnaire "
        "source=QuestionnaireResponse-source status=QuestionnaireResponse-status "
        "subject=QuestionnaireResponse-subject "
    ),
    "RelatedPerson": _pairs(
        "active=RelatedPerson-active address=individual-address "
        "address-city=individual-address-city address-country=individual-address-country "
        "address-postalcode=individual-address-postalcode "
        "address-state=individual-address-state address-use=individual-address-use "
        "birthdate=individual-birthdate email=individual-email gender=individual-gender "
        "identifier=RelatedPerson-identifier name=RelatedPerson-name "
        "patient=RelatedPerson-patient phone=individual-phone "
        "phonetic=individual-phonetic relationship=RelatedPerson-relationship "
        "telecom=individual-telecom "
    ),
    "RequestGroup": _pairs(
        "author=RequestGroup-author authored=RequestGroup-authored code=RequestGroup-code "
        "encounter=RequestGroup-encounter group-identifier=RequestGroup-group-identifier "
        "identifier=RequestGroup-identifier "
        "instantiates-canonical=RequestGroup-instantiates-canonical "
        "instantiates-uri=RequestGroup-instantiates-uri intent=RequestGroup-intent "
        "participant=RequestGroup-participant patient=RequestGroup-patient "
        "priority=RequestGroup-priority status=RequestGroup-status "
        "subject=RequestGroup-subject "
    ),
    "ResearchDefinition": _pairs(
        "composed-of=ResearchDefinition-composed-of context=ResearchDefinition-context "
        "context-quantity=ResearchDefinition-context-quantity "
        "context-type=ResearchDefinition-context-type "
        "context-type-quantity=ResearchDefinition-context-type-quantity "
        "context-type-value=ResearchDefinition-context-type-value "
        "date=ResearchDefinition-date depends-on=ResearchDefinition-depends-on "
        "derived-from=ResearchDefinition-derived-from "
        "description=ResearchDefinition-description "
        "effective=ResearchDefinition-effective identifier=ResearchDefinition-identifier "
        "jurisdiction=ResearchDefinition-jurisdiction name=ResearchDefinition-name "
        "predecessor=ResearchDefinition-predecessor "
        "publisher=ResearchDefinition-publisher status=ResearchDefinition-status "
        "successor=ResearchDefinition-successor title=ResearchDefinition-title "
        "topic=ResearchDefinition-topic url=ResearchDefinition-url "
        "version=ResearchDefinition-version "
    ),
    "ResearchElementDefinition": _pairs(
        "composed-of=ResearchElementDefinition-composed-of "
        "context=ResearchElementDefinition-context "
        "context-quantity=ResearchElementDefinition-context-quantity "
        "context-type=ResearchElementDefinition-context-type "
        "context-type-quantity=ResearchElementDefinition-context-type-quantity "
        "context-type-value=ResearchElementDefinition-context-type-value "
        "date=ResearchElementDefinition-date "
        "depends-on=ResearchElementDefinition-depends-on "
        "derived-from=ResearchElementDefinition-derived-from "
        "description=ResearchElementDefinition-description "
        "effective=ResearchElementDefinition-effective "
        "identifier=ResearchElementDefinition-identifier "
        "jurisdiction=ResearchElementDefinition-jurisdiction "
        "name=ResearchElementDefinition-name "
        "predecessor=ResearchElementDefinition-predecessor "
        "publisher=ResearchElementDefinition-publisher "
        "status=ResearchElementDefinition-status "
        "successor=ResearchElementDefinition-successor "
        "title=ResearchElementDefinition-title topic=ResearchElementDefinition-topic "
        "url=ResearchElementDefinition-url version=ResearchElementDefinition-version "
    ),
    "ResearchStudy": _pairs(
        "category=ResearchStudy-category date=ResearchStudy-date "
        "focus=ResearchStudy-focus identifier=ResearchStudy-identifier "
        "keyword=ResearchStudy-keyword location=ResearchStudy-location "
        "partof=ResearchStudy-partof "
        "principalinvestigator=ResearchStudy-principalinvestigator "
        "protocol=ResearchStudy-protocol site=ResearchStudy-site "
        "sponsor=ResearchStudy-sponsor status=ResearchStudy-status "
        "title=ResearchStudy-title "
    ),
    "ResearchSubject": _pairs(
        "date=ResearchSubject-date identifier=ResearchSubject-identifier "
        "individual=ResearchSubject-individual patient=ResearchSubject-patient "
        "status=ResearchSubject-status study=ResearchSubject-study "
    ),
    "Resource": _pairs(
        "_content=Resource-content _id=Resource-id _lastUpdated=Resource-lastUpdated "
        "_profile=Resource-profile _query=Resource-query _security=Resource-security "
        "_source=Resource-source _tag=Resource-tag "
    ),
    "RiskAssessment": _pairs(
        "condition=RiskAssessment-condition date=clinical-date "
        "encounter=clinical-encounter identifier=clinical-identifier "
        "method=RiskAssessment-method patient=clinical-patient "
        "performer=RiskAssessment-performer probability=RiskAssessment-probability "
        "risk=RiskAssessment-risk subject=RiskAssessment-subject "
    ),
    "RiskEvidenceSynthesis": _pairs(
        "context=RiskEvidenceSynthesis-context "
        "context-quantity=RiskEvidenceSynthesis-context-quantity "
        "context-type=RiskEvidenceSynthesis-context-type "
        "context-type-quantity=RiskEvidenceSynthesis-context-type-quantity "
        "context-type-value=RiskEvidenceSynthesis-context-type-value "
        "date=RiskEvidenceSynthesis-date description=RiskEvidenceSynthesis-description "
        "effective=RiskEvidenceSynthesis-effective "
        "identifier=RiskEvidenceSynthesis-identifier "
        "jurisdiction=RiskEvidenceSynthesis-jurisdiction name=RiskEvidenceSynthesis-name "
        "publisher=RiskEvidenceSynthesis-publisher status=RiskEvidenceSynthesis-status "
        "title=RiskEvidenceSynthesis-title url=RiskEvidenceSynthesis-url "
        "version=RiskEvidenceSynthesis-version "
    ),
    "Schedule": _pairs(
        "active=Schedule-active actor=Schedule-actor date=Schedule-date "
        "identifier=Schedule-identifier service-category=Schedule-service-category "
        "service-type=Schedule-service-type specialty=Schedule-specialty "
    ),
    "SearchParameter": _pairs(
        "base=SearchParameter-base code=SearchParameter-code "
        "component=SearchParameter-component context=conformance-context "
        "context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "derived-from=SearchParameter-derived-from description=conformance-description "
        "jurisdiction=conformance-jurisdiction name=conformance-name "
        "publisher=conformance-publisher status=conformance-status "
        "target=SearchParameter-target type=SearchParameter-type url=conformance-url "
        "version=conformance-version "
    ),
    "ServiceRequest": _pairs(
        "authored=ServiceRequest-authored based-on=ServiceRequest-based-on "
        "body-site=ServiceRequest-body-site category=ServiceRequest-category "
        "code=clinical-code encounter=clinical-encounter identifier=clinical-identifier "
        "instantiates-canonical=ServiceRequest-instantiates-canonical "
        "instantiates-uri=ServiceRequest-instantiates-uri intent=ServiceRequest-intent "
        "occurrence=ServiceRequest-occurrence order-detail=ServiceRequest-order-detail "
        "patient=clinical-patient performer=ServiceRequest-performer "
        "performer-type=ServiceRequest-performer-type priority=ServiceRequest-priority "
        "replaces=ServiceRequest-replaces requester=ServiceRequest-requester "
        "requisition=ServiceRequest-requisition specimen=ServiceRequest-specimen "
        "status=ServiceRequest-status subject=ServiceRequest-subject "
    ),
    "Slot": _pairs(
        "appointment-type=Slot-appointment-type identifier=Slot-identifier "
        "schedule=Slot-schedule service-category=Slot-service-category "
        "service-type=Slot-service-type specialty=Slot-specialty start=Slot-start "
        "status=Slot-status "
    ),
    "Specimen": _pairs(
        "accession=Specimen-accession bodysite=Specimen-bodysite "
        "collected=Specimen-collected collector=Specimen-collector "
        "container=Specimen-container container-id=Specimen-container-id "
        "identifier=Specimen-identifier parent=Specimen-parent patient=Specimen-patient "
        "status=Specimen-status subject=Specimen-subject type=Specimen-type "
    ),
    "SpecimenDefinition": _pairs(
        "container=SpecimenDefinition-container identifier=SpecimenDefinition-identifier "
        "type=SpecimenDefinition-type "
    ),
    "StructureDefinition": _pairs(
        "abstract=StructureDefinition-abstract base=StructureDefinition-base "
        "base-path=StructureDefinition-base-path context=conformance-context "
        "context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "derivation=StructureDefinition-derivation description=conformance-description "
        "experimental=StructureDefinition-experimental "
        "ext-context=StructureDefinition-ext-context identifier=conformance-identifier "
        "jurisdiction=conformance-jurisdiction keyword=StructureDefinition-keyword "
        "kind=StructureDefinition-kind name=conformance-name "
        "path=StructureDefinition-path publisher=conformance-publisher "
        "status=conformance-status title=conformance-title type=StructureDefinition-type "
        "url=conformance-url valueset=StructureDefinition-valueset "
        "version=conformance-version "
    ),
    "StructureMap": _pairs(
        "context=conformance-context context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "description=conformance-description identifier=conformance-identifier "
        "jurisdiction=conformance-jurisdiction name=conformance-name "
        "publisher=conformance-publisher status=conformance-status "
        "title=conformance-title url=conformance-url version=conformance-version "
    ),
    "Subscription": _pairs(
        "contact=Subscription-contact criteria=Subscription-criteria "
        "payload=Subscription-payload status=Subscription-status type=Subscription-type "
        "url=Subscription-url "
    ),
    "Substance": _pairs(
        "category=Substance-category code=Substance-code "
        "container-identifier=Substance-container-identifier expiry=Substance-expiry "
        "identifier=Substance-identifier quantity=Substance-quantity "
        "status=Substance-status substance-reference=Substance-substance-reference "
    ),
    "SubstanceSpecification": _pairs("code=SubstanceSpecification-code "),
    "SupplyDelivery": _pairs(
        "identifier=clinical-identifier patient=clinical-patient "
        "receiver=SupplyDelivery-receiver status=SupplyDelivery-status "
        "supplier=SupplyDelivery-supplier "
    ),
    "SupplyRequest": _pairs(
        "category=SupplyRequest-category date=clinical-date "
        "identifier=clinical-identifier requester=SupplyRequest-requester "
        "status=SupplyRequest-status subject=SupplyRequest-subject "
        "supplier=SupplyRequest-supplier "
    ),
    "Task": _pairs(
        "authored-on=Task-authored-on based-on=Task-based-on "
        "business-status=Task-business-status code=Task-code encounter=Task-encounter "
        "focus=Task-focus group-identifier=Task-group-identifier "
        "identifier=Task-identifier intent=Task-intent modified=Task-modified "
        "owner=Task-owner part-of=Task-part-of patient=Task-patient "
        "performer=Task-performer period=Task-period priority=Task-priority "
        "requester=Task-requester status=Task-status subject=Task-subject "
    ),
    "TerminologyCapabilities": _pairs(
        "context=conformance-context context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "description=conformance-description jurisdiction=conformance-jurisdiction "
        "name=conformance-name publisher=conformance-publisher status=conformance-status "
        "title=conformance-title url=conformance-url version=conformance-version "
    ),
    "TestReport": _pairs(
        "identifier=TestReport-identifier issued=TestReport-issued "
        "participant=TestReport-participant result=TestReport-result "
        "tester=TestReport-tester testscript=TestReport-testscript "
    ),
    "TestScript": _pairs(
        "context=TestScript-context context-quantity=TestScript-context-quantity "
        "context-type=TestScript-context-type "
        "context-type-quantity=TestScript-context-type-quantity "
        "context-type-value=TestScript-context-type-value date=TestScript-date "
        "description=TestScript-description identifier=TestScript-identifier "
        "jurisdiction=TestScript-jurisdiction name=TestScript-name "
        "publisher=TestScript-publisher status=TestScript-status "
        "testscript-capability=TestScript-testscript-capability title=TestScript-title "
        "url=TestScript-url version=TestScript-version "
    ),
    "ValueSet": _pairs(
        "code=ValueSet-code context=conformance-context "
        "context-quantity=conformance-context-quantity "
        "context-type=conformance-context-type "
        "context-type-quantity=conformance-context-type-quantity "
        "context-type-value=conformance-context-type-value date=conformance-date "
        "description=conformance-description expansion=ValueSet-expansion "
        "identifier=conformance-identifier jurisdiction=conformance-jurisdiction "
        "name=conformance-name publisher=conformance-publisher "
        "reference=ValueSet-reference status=conformance-status title=conformance-title "
        "url=conformance-url version=conformance-version "
    ),
    "VerificationResult": _pairs("target=VerificationResult-target "),
    "VisionPrescription": _pairs(
        "datewritten=VisionPrescription-datewritten encounter=clinical-encounter "
        "identifier=clinical-identifier patient=clinical-patient "
        "prescriber=VisionPrescription-prescriber status=VisionPrescription-status "
    ),
}

TARGETS: Final[dict[str, tuple[str, ...]]] = {
    "Account-owner": _types("Organization"),
    "Account-patient": _types("Patient"),
    "Account-subject": _types(
        "Device HealthcareService Location Organization Patient Practitioner PractitionerRole "
    ),
    "ActivityDefinition-composed-of": (),
    "ActivityDefinition-depends-on": (),
    "ActivityDefinition-derived-from": (),
    "ActivityDefinition-predecessor": (),
    "ActivityDefinition-successor": (),
    "AdverseEvent-location": _types("Location"),
    "AdverseEvent-recorder": _types("Patient Practitioner PractitionerRole RelatedPerson"),
    "AdverseEvent-resultingcondition": _types("Condition"),
    "AdverseEvent-study": _types("ResearchStudy"),
    "AdverseEvent-subject": _types("Group Patient Practitioner RelatedPerson"),
    "AdverseEvent-substance": _types(
        "Device Immunization Medication MedicationAdministration MedicationStatement "
        "Procedure Substance "
    ),
    "AllergyIntolerance-asserter": _types("Patient Practitioner PractitionerRole RelatedPerson"),
    "AllergyIntolerance-recorder": _types("Patient Practitioner PractitionerRole RelatedPerson"),
    "Appointment-actor": _types(
        "Device HealthcareService Location Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Appointment-based-on": _types("ServiceRequest"),
    "Appointment-location": _types("Location"),
    "Appointment-patient": _types("Patient"),
    "Appointment-practitioner": _types("Practitioner"),
    "Appointment-reason-reference": _types(
        "Condition ImmunizationRecommendation Observation Procedure "
    ),
    "Appointment-slot": _types("Slot"),
    "Appointment-supporting-info": (),
    "AppointmentResponse-actor": _types(
        "Device HealthcareService Location Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "AppointmentResponse-appointment": _types("Appointment"),
    "AppointmentResponse-location": _types("Location"),
    "AppointmentResponse-patient": _types("Patient"),
    "AppointmentResponse-practitioner": _types("Practitioner"),
    "AuditEvent-agent": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "AuditEvent-entity": (),
    "AuditEvent-patient": _types("Patient"),
    "AuditEvent-source": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Basic-author": _types("Organization Patient Practitioner PractitionerRole RelatedPerson"),
    "Basic-patient": _types("Patient"),
    "Basic-subject": (),
    "BodyStructure-patient": _types("Patient"),
    "Bundle-composition": _types("Composition"),
    "Bundle-message": _types("MessageHeader"),
    "CapabilityStatement-guide": _types("ImplementationGuide"),
    "CapabilityStatement-resource-profile": _types("StructureDefinition"),
    "CapabilityStatement-supported-profile": _types("StructureDefinition"),
    "CarePlan-activity-reference": _types(
        "Appointment CommunicationRequest DeviceRequest MedicationRequest NutritionOrder "
        "RequestGroup ServiceRequest Task VisionPrescription "
    ),
    "CarePlan-based-on": _types("CarePlan"),
    "CarePlan-care-team": _types("CareTeam"),
    "CarePlan-condition": _types("Condition"),
    "CarePlan-encounter": _types("Encounter"),
    "CarePlan-goal": _types("Goal"),
    "CarePlan-instantiates-canonical": _types(
        "ActivityDefinition Measure OperationDefinition PlanDefinition Questionnaire "
    ),
    "CarePlan-part-of": _types("CarePlan"),
    "CarePlan-performer": _types(
        "CareTeam Device HealthcareService Organization Patient Practitioner "
        "PractitionerRole RelatedPerson "
    ),
    "CarePlan-replaces": _types("CarePlan"),
    "CarePlan-subject": _types("Group Patient"),
    "CareTeam-encounter": _types("Encounter"),
    "CareTeam-participant": _types(
        "CareTeam Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "CareTeam-subject": _types("Group Patient"),
    "ChargeItem-account": _types("Account"),
    "ChargeItem-context": _types("Encounter EpisodeOfCare"),
    "ChargeItem-enterer": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "ChargeItem-patient": _types("Patient"),
    "ChargeItem-performer-actor": _types(
        "CareTeam Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "ChargeItem-performing-organization": _types("Organization"),
    "ChargeItem-requesting-organization": _types("Organization"),
    "ChargeItem-service": _types(
        "DiagnosticReport ImagingStudy Immunization MedicationAdministration "
        "MedicationDispense Observation Procedure SupplyDelivery "
    ),
    "ChargeItem-subject": _types("Group Patient"),
    "Claim-care-team": _types("Organization Practitioner PractitionerRole"),
    "Claim-detail-udi": _types("Device"),
    "Claim-encounter": _types("Encounter"),
    "Claim-enterer": _types("Practitioner PractitionerRole"),
    "Claim-facility": _types("Location"),
    "Claim-insurer": _types("Organization"),
    "Claim-item-udi": _types("Device"),
    "Claim-patient": _types("Patient"),
    "Claim-payee": _types("Organization Patient Practitioner PractitionerRole RelatedPerson"),
    "Claim-procedure-udi": _types("Device"),
    "Claim-provider": _types("Organization Practitioner PractitionerRole"),
    "Claim-subdetail-udi": _types("Device"),
    "ClaimResponse-insurer": _types("Organization"),
    "ClaimResponse-patient": _types("Patient"),
    "ClaimResponse-request": _types("Claim"),
    "ClaimResponse-requestor": _types("Organization Practitioner PractitionerRole"),
    "ClinicalImpression-assessor": _types("Practitioner PractitionerRole"),
    "ClinicalImpression-encounter": _types("Encounter"),
    "ClinicalImpression-finding-ref": _types("Condition Media Observation"),
    "ClinicalImpression-investigation": _types(
        "DiagnosticReport FamilyMemberHistory ImagingStudy Media Observation "
        "QuestionnaireResponse RiskAssessment "
    ),
    "ClinicalImpression-previous": _types("ClinicalImpression"),
    "ClinicalImpression-problem": _types("AllergyIntolerance Condition"),
    "ClinicalImpression-subject": _types("Group Patient"),
    "ClinicalImpression-supporting-info": (),
    "CodeSystem-supplements": _types("CodeSystem"),
    "Communication-based-on": (),
    "Communication-encounter": _types("Encounter"),
    "Communication-instantiates-canonical": _types(
        "ActivityDefinition Measure OperationDefinition PlanDefinition Questionnaire "
    ),
    "Communication-part-of": (),
    "Communication-patient": _types("Patient"),
    "Communication-recipient": _types(
        "CareTeam Device Group HealthcareService Organization Patient Practitioner "
        "PractitionerRole RelatedPerson "
    ),
    "Communication-sender": _types(
        "Device HealthcareService Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Communication-subject": _types("Group Patient"),
    "CommunicationRequest-based-on": (),
    "CommunicationRequest-encounter": _types("Encounter"),
    "CommunicationRequest-patient": _types("Patient"),
    "CommunicationRequest-recipient": _types(
        "CareTeam Device Group HealthcareService Organization Patient Practitioner "
        "PractitionerRole RelatedPerson "
    ),
    "CommunicationRequest-replaces": _types("CommunicationRequest"),
    "CommunicationRequest-requester": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "CommunicationRequest-sender": _types(
        "Device HealthcareService Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "CommunicationRequest-subject": _types("Group Patient"),
    "Composition-attester": _types(
        "Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Composition-author": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Composition-entry": (),
    "Composition-related-ref": _types("Composition"),
    "Composition-subject": (),
    "ConceptMap-other": _types("ConceptMap"),
    "ConceptMap-source": _types("ValueSet"),
    "ConceptMap-source-uri": _types("ValueSet"),
    "ConceptMap-target": _types("ValueSet"),
    "ConceptMap-target-uri": _types("ValueSet"),
    "Condition-asserter": _types("Patient Practitioner PractitionerRole RelatedPerson"),
    "Condition-encounter": _types("Encounter"),
    "Condition-evidence-detail": (),
    "Condition-subject": _types("Group Patient"),
    "Consent-actor": _types(
        "CareTeam Device Group Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Consent-consentor": _types("Organization Patient Practitioner PractitionerRole RelatedPerson"),
    "Consent-data": (),
    "Consent-organization": _types("Organization"),
    "Consent-source-reference": _types("Consent Contract DocumentReference QuestionnaireResponse"),
    "Contract-authority": _types("Organization"),
    "Contract-domain": _types("Location"),
    "Contract-patient": _types("Patient"),
    "Contract-signer": _types("Organization Patient Practitioner PractitionerRole RelatedPerson"),
    "Contract-subject": (),
    "Coverage-beneficiary": _types("Patient"),
    "Coverage-patient": _types("Patient"),
    "Coverage-payor": _types("Organization Patient RelatedPerson"),
    "Coverage-policy-holder": _types("Organization Patient RelatedPerson"),
    "Coverage-subscriber": _types("Patient RelatedPerson"),
    "CoverageEligibilityRequest-enterer": _types("Practitioner PractitionerRole"),
    "CoverageEligibilityRequest-facility": _types("Location"),
    "CoverageEligibilityRequest-patient": _types("Patient"),
    "CoverageEligibilityRequest-provider": _types("Organization Practitioner PractitionerRole"),
    "CoverageEligibilityResponse-insurer": _types("Organization"),
    "CoverageEligibilityResponse-patient": _types("Patient"),
    "CoverageEligibilityResponse-request": _types("CoverageEligibilityRequest"),
    "CoverageEligibilityResponse-requestor": _types("Organization Practitioner PractitionerRole"),
    "DetectedIssue-author": _types("Device Practitioner PractitionerRole"),
    "DetectedIssue-implicated": (),
    "Device-location": _types("Location"),
    "Device-organization": _types("Organization"),
    "Device-patient": _types("Patient"),
    "DeviceDefinition-parent": _types("DeviceDefinition"),
    "DeviceMetric-parent": _types("Device"),
    "DeviceMetric-source": _types("Device"),
    "DeviceRequest-based-on": (),
    "DeviceRequest-device": _types("Device"),
    "DeviceRequest-instantiates-canonical": _types("ActivityDefinition PlanDefinition"),
    "DeviceRequest-insurance": _types("ClaimResponse Coverage"),
    "DeviceRequest-performer": _types(
        "CareTeam Device HealthcareService Organization Patient Practitioner "
        "PractitionerRole RelatedPerson "
    ),
    "DeviceRequest-prior-request": (),
    "DeviceRequest-requester": _types("Device Organization Practitioner PractitionerRole"),
    "DeviceRequest-subject": _types("Device Group Location Patient"),
    "DeviceUseStatement-device": _types("Device"),
    "DeviceUseStatement-subject": _types("Group Patient"),
    "DiagnosticReport-based-on": _types(
        "CarePlan ImmunizationRecommendation MedicationRequest NutritionOrder ServiceRequest "
    ),
    "DiagnosticReport-media": _types("Media"),
    "DiagnosticReport-performer": _types("CareTeam Organization Practitioner PractitionerRole"),
    "DiagnosticReport-result": _types("Observation"),
    "DiagnosticReport-results-interpreter": _types(
        "CareTeam Organization Practitioner PractitionerRole "
    ),
    "DiagnosticReport-specimen": _types("Specimen"),
    "DiagnosticReport-subject": _types("Device Group Location Patient"),
    "DocumentManifest-author": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "DocumentManifest-item": (),
    "DocumentManifest-recipient": _types(
        "Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "DocumentManifest-related-ref": (),
    "DocumentManifest-subject": _types("Device Group Patient Practitioner"),
    "DocumentReference-authenticator": _types("Organization Practitioner PractitionerRole"),
    "DocumentReference-author": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "DocumentReference-custodian": _types("Organization"),
    "DocumentReference-related": (),
    "DocumentReference-relatesto": _types("DocumentReference"),
    "DocumentReference-subject": _types("Device Group Patient Practitioner"),
    "Encounter-account": _types("Account"),
    "Encounter-appointment": _types("Appointment"),
    "Encounter-based-on": _types("ServiceRequest"),
    "Encounter-diagnosis": _types("Condition Procedure"),
    "Encounter-episode-of-care": _types("EpisodeOfCare"),
    "Encounter-location": _types("Location"),
    "Encounter-part-of": _types("Encounter"),
    "Encounter-participant": _types("Practitioner PractitionerRole RelatedPerson"),
    "Encounter-practitioner": _types("Practitioner"),
    "Encounter-reason-reference": _types(
        "Condition ImmunizationRecommendation Observation Procedure "
    ),
    "Encounter-service-provider": _types("Organization"),
    "Encounter-subject": _types("Group Patient"),
    "Endpoint-organization": _types("Organization"),
    "EnrollmentRequest-patient": _types("Patient"),
    "EnrollmentRequest-subject": _types("Patient"),
    "EnrollmentResponse-request": _types("EnrollmentRequest"),
    "EpisodeOfCare-care-manager": _types("Practitioner"),
    "EpisodeOfCare-condition": _types("Condition"),
    "EpisodeOfCare-incoming-referral": _types("ServiceRequest"),
    "EpisodeOfCare-organization": _types("Organization"),
    "EventDefinition-composed-of": (),
    "EventDefinition-depends-on": (),
    "EventDefinition-derived-from": (),
    "EventDefinition-predecessor": (),
    "EventDefinition-successor": (),
    "Evidence-composed-of": (),
    "Evidence-depends-on": (),
    "Evidence-derived-from": (),
    "Evidence-predecessor": (),
    "Evidence-successor": (),
    "EvidenceVariable-composed-of": (),
    "EvidenceVariable-depends-on": (),
    "EvidenceVariable-derived-from": (),
    "EvidenceVariable-predecessor": (),
    "EvidenceVariable-successor": (),
    "ExplanationOfBenefit-care-team": _types("Organization Practitioner PractitionerRole"),
    "ExplanationOfBenefit-claim": _types("Claim"),
    "ExplanationOfBenefit-coverage": _types("Coverage"),
    "ExplanationOfBenefit-detail-udi": _types("Device"),
    "ExplanationOfBenefit-encounter": _types("Encounter"),
    "ExplanationOfBenefit-enterer": _types("Practitioner PractitionerRole"),
    "ExplanationOfBenefit-facility": _types("Location"),
    "ExplanationOfBenefit-item-udi": _types("Device"),
    "ExplanationOfBenefit-patient": _types("Patient"),
    "ExplanationOfBenefit-payee": _types(
        "Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "ExplanationOfBenefit-procedure-udi": _types("Device"),
    "ExplanationOfBenefit-provider": _types("Organization Practitioner PractitionerRole"),
    "ExplanationOfBenefit-subdetail-udi": _types("Device"),
    "FamilyMemberHistory-instantiates-canonical": _types(
        "ActivityDefinition Measure OperationDefinition PlanDefinition Questionnaire "
    ),
    "Flag-author": _types("Device Organization Patient Practitioner PractitionerRole"),
    "Flag-subject": _types(
        "Group Location Medication Organization Patient PlanDefinition Practitioner Procedure "
    ),
    "Goal-subject": _types("Group Organization Patient"),
    "Group-managing-entity": _types("Organization Practitioner PractitionerRole RelatedPerson"),
    "Group-member": _types(
        "Device Group Medication Patient Practitioner PractitionerRole Substance "
    ),
    "GuidanceResponse-patient": _types("Patient"),
    "GuidanceResponse-subject": _types("Group Patient"),
    "HealthcareService-coverage-area": _types("Location"),
    "HealthcareService-endpoint": _types("Endpoint"),
    "HealthcareService-location": _types("Location"),
    "HealthcareService-organization": _types("Organization"),
    "ImagingStudy-basedon": _types("Appointment AppointmentResponse CarePlan ServiceRequest Task"),
    "ImagingStudy-encounter": _types("Encounter"),
    "ImagingStudy-endpoint": _types("Endpoint"),
    "ImagingStudy-interpreter": _types("Practitioner PractitionerRole"),
    "ImagingStudy-performer": _types(
        "CareTeam Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "ImagingStudy-referrer": _types("Practitioner PractitionerRole"),
    "ImagingStudy-subject": _types("Device Group Patient"),
    "Immunization-location": _types("Location"),
    "Immunization-manufacturer": _types("Organization"),
    "Immunization-performer": _types("Organization Practitioner PractitionerRole"),
    "Immunization-reaction": _types("Observation"),
    "Immunization-reason-reference": _types("Condition DiagnosticReport Observation"),
    "ImmunizationEvaluation-immunization-event": _types("Immunization"),
    "ImmunizationEvaluation-patient": _types("Patient"),
    "ImmunizationRecommendation-information": (),
    "ImmunizationRecommendation-patient": _types("Patient"),
    "ImmunizationRecommendation-support": _types("Immunization ImmunizationEvaluation"),
    "ImplementationGuide-depends-on": _types("ImplementationGuide"),
    "ImplementationGuide-global": _types("StructureDefinition"),
    "ImplementationGuide-resource": (),
    "InsurancePlan-administered-by": _types("Organization"),
    "InsurancePlan-endpoint": _types("Endpoint"),
    "InsurancePlan-owned-by": _types("Organization"),
    "Invoice-account": _types("Account"),
    "Invoice-issuer": _types("Organization"),
    "Invoice-participant": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Invoice-patient": _types("Patient"),
    "Invoice-recipient": _types("Organization Patient RelatedPerson"),
    "Invoice-subject": _types("Group Patient"),
    "Library-composed-of": (),
    "Library-depends-on": (),
    "Library-derived-from": (),
    "Library-predecessor": (),
    "Library-successor": (),
    "Linkage-author": _types("Organization Practitioner PractitionerRole"),
    "Linkage-item": (),
    "Linkage-source": (),
    "List-item": (),
    "List-source": _types("Device Patient Practitioner PractitionerRole"),
    "List-subject": _types("Device Group Location Patient"),
    "Location-endpoint": _types("Endpoint"),
    "Location-organization": _types("Organization"),
    "Location-partof": _types("Location"),
    "Measure-composed-of": (),
    "Measure-depends-on": (),
    "Measure-derived-from": (),
    "Measure-predecessor": (),
    "Measure-successor": (),
    "MeasureReport-evaluated-resource": (),
    "MeasureReport-measure": _types("Measure"),
    "MeasureReport-patient": _types("Patient"),
    "MeasureReport-reporter": _types("Location Organization Practitioner PractitionerRole"),
    "MeasureReport-subject": _types(
        "CareTeam Device Group HealthcareService Location Organization Patient "
        "Practitioner PractitionerRole RelatedPerson "
    ),
    "Media-based-on": _types("CarePlan ServiceRequest"),
    "Media-device": _types("Device DeviceMetric"),
    "Media-encounter": _types("Encounter"),
    "Media-operator": _types(
        "CareTeam Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Media-patient": _types("Patient"),
    "Media-subject": _types("Device Group Location Patient Practitioner PractitionerRole Specimen"),
    "Medication-ingredient": _types("Medication Substance"),
    "Medication-manufacturer": _types("Organization"),
    "MedicationAdministration-context": _types("Encounter EpisodeOfCare"),
    "MedicationAdministration-device": _types("Device"),
    "MedicationAdministration-performer": _types(
        "Device Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "MedicationAdministration-request": _types("MedicationRequest"),
    "MedicationAdministration-subject": _types("Group Patient"),
    "MedicationDispense-context": _types("Encounter EpisodeOfCare"),
    "MedicationDispense-destination": _types("Location"),
    "MedicationDispense-performer": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "MedicationDispense-receiver": _types("Patient Practitioner"),
    "MedicationDispense-responsibleparty": _types("Practitioner PractitionerRole"),
    "MedicationDispense-subject": _types("Group Patient"),
    "MedicationKnowledge-ingredient": _types("Substance"),
    "MedicationKnowledge-manufacturer": _types("Organization"),
    "MedicationKnowledge-monograph": _types("DocumentReference Media"),
    "MedicationRequest-intended-dispenser": _types("Organization"),
    "MedicationRequest-intended-performer": _types(
        "CareTeam Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "MedicationRequest-requester": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "MedicationRequest-subject": _types("Group Patient"),
    "MedicationStatement-context": _types("Encounter EpisodeOfCare"),
    "MedicationStatement-part-of": _types(
        "MedicationAdministration MedicationDispense MedicationStatement Observation Procedure "
    ),
    "MedicationStatement-source": _types(
        "Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "MedicationStatement-subject": _types("Group Patient"),
    "MedicinalProductAuthorization-holder": _types("Organization"),
    "MedicinalProductAuthorization-subject": _types("MedicinalProduct MedicinalProductPackaged"),
    "MedicinalProductContraindication-subject": _types("Medication MedicinalProduct"),
    "MedicinalProductIndication-subject": _types("Medication MedicinalProduct"),
    "MedicinalProductInteraction-subject": _types("Medication MedicinalProduct Substance"),
    "MedicinalProductPackaged-subject": _types("MedicinalProduct"),
    "MedicinalProductUndesirableEffect-subject": _types("Medication MedicinalProduct"),
    "MessageDefinition-parent": _types("ActivityDefinition PlanDefinition"),
    "MessageHeader-author": _types("Practitioner PractitionerRole"),
    "MessageHeader-enterer": _types("Practitioner PractitionerRole"),
    "MessageHeader-focus": (),
    "MessageHeader-receiver": _types("Organization Practitioner PractitionerRole"),
    "MessageHeader-responsible": _types("Organization Practitioner PractitionerRole"),
    "MessageHeader-sender": _types("Organization Practitioner PractitionerRole"),
    "MessageHeader-target": _types("Device"),
    "MolecularSequence-patient": _types("Patient"),
    "NutritionOrder-instantiates-canonical": _types("ActivityDefinition PlanDefinition"),
    "NutritionOrder-provider": _types("Practitioner PractitionerRole"),
    "Observation-based-on": _types(
        "CarePlan DeviceRequest ImmunizationRecommendation MedicationRequest "
        "NutritionOrder ServiceRequest "
    ),
    "Observation-derived-from": _types(
        "DocumentReference ImagingStudy Media MolecularSequence Observation QuestionnaireResponse "
    ),
    "Observation-device": _types("Device DeviceMetric"),
    "Observation-focus": (),
    "Observation-has-member": _types("MolecularSequence Observation QuestionnaireResponse"),
    "Observation-part-of": _types(
        "ImagingStudy Immunization MedicationAdministration MedicationDispense "
        "MedicationStatement Procedure "
    ),
    "Observation-performer": _types(
        "CareTeam Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Observation-specimen": _types("Specimen"),
    "Observation-subject": _types("Device Group Location Patient"),
    "OperationDefinition-base": _types("OperationDefinition"),
    "OperationDefinition-input-profile": _types("StructureDefinition"),
    "OperationDefinition-output-profile": _types("StructureDefinition"),
    "Organization-endpoint": _types("Endpoint"),
    "Organization-partof": _types("Organization"),
    "OrganizationAffiliation-endpoint": _types("Endpoint"),
    "OrganizationAffiliation-location": _types("Location"),
    "OrganizationAffiliation-network": _types("Organization"),
    "OrganizationAffiliation-participating-organization": _types("Organization"),
    "OrganizationAffiliation-primary-organization": _types("Organization"),
    "OrganizationAffiliation-service": _types("HealthcareService"),
    "Patient-general-practitioner": _types("Organization Practitioner PractitionerRole"),
    "Patient-link": _types("Patient RelatedPerson"),
    "Patient-organization": _types("Organization"),
    "PaymentNotice-provider": _types("Organization Practitioner PractitionerRole"),
    "PaymentNotice-request": (),
    "PaymentNotice-response": (),
    "PaymentReconciliation-payment-issuer": _types("Organization"),
    "PaymentReconciliation-request": _types("Task"),
    "PaymentReconciliation-requestor": _types("Organization Practitioner PractitionerRole"),
    "Person-link": _types("Patient Person Practitioner RelatedPerson"),
    "Person-organization": _types("Organization"),
    "Person-patient": _types("Patient"),
    "Person-practitioner": _types("Practitioner"),
    "Person-relatedperson": _types("RelatedPerson"),
    "PlanDefinition-composed-of": (),
    "PlanDefinition-definition": _types("ActivityDefinition PlanDefinition Questionnaire"),
    "PlanDefinition-depends-on": (),
    "PlanDefinition-derived-from": (),
    "PlanDefinition-predecessor": (),
    "PlanDefinition-successor": (),
    "PractitionerRole-endpoint": _types("Endpoint"),
    "PractitionerRole-location": _types("Location"),
    "PractitionerRole-organization": _types("Organization"),
    "PractitionerRole-practitioner": _types("Practitioner"),
    "PractitionerRole-service": _types("HealthcareService"),
    "Procedure-based-on": _types("CarePlan ServiceRequest"),
    "Procedure-instantiates-canonical": _types(
        "ActivityDefinition Measure OperationDefinition PlanDefinition Questionnaire "
    ),
    "Procedure-location": _types("Location"),
    "Procedure-part-of": _types("MedicationAdministration Observation Procedure"),
    "Procedure-performer": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Procedure-reason-reference": _types(
        "Condition DiagnosticReport DocumentReference Observation Procedure "
    ),
    "Procedure-subject": _types("Group Patient"),
    "Provenance-agent": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Provenance-entity": (),
    "Provenance-location": _types("Location"),
    "Provenance-patient": _types("Patient"),
    "Provenance-target": (),
    "QuestionnaireResponse-author": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "QuestionnaireResponse-based-on": _types("CarePlan ServiceRequest"),
    "QuestionnaireResponse-encounter": _types("Encounter"),
    "QuestionnaireResponse-part-of": _types("Observation Procedure"),
    "QuestionnaireResponse-patient": _types("Patient"),
    "QuestionnaireResponse-questionnaire": _types("Questionnaire"),
    "QuestionnaireResponse-source": _types("Patient Practitioner PractitionerRole RelatedPerson"),
    "QuestionnaireResponse-subject": (),
    "RelatedPerson-patient": _types("Patient"),
    "RequestGroup-author": _types("Device Practitioner PractitionerRole"),
    "RequestGroup-encounter": _types("Encounter"),
    "RequestGroup-participant": _types(
        "Device Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "RequestGroup-patient": _types("Patient"),
    "RequestGroup-subject": _types("Group Patient"),
    "ResearchDefinition-composed-of": (),
    "ResearchDefinition-depends-on": (),
    "ResearchDefinition-derived-from": (),
    "ResearchDefinition-predecessor": (),
    "ResearchDefinition-successor": (),
    "ResearchElementDefinition-composed-of": (),
    "ResearchElementDefinition-depends-on": (),
    "ResearchElementDefinition-derived-from": (),
    "ResearchElementDefinition-predecessor": (),
    "ResearchElementDefinition-successor": (),
    "ResearchStudy-partof": _types("ResearchStudy"),
    "ResearchStudy-principalinvestigator": _types("Practitioner PractitionerRole"),
    "ResearchStudy-protocol": _types("PlanDefinition"),
    "ResearchStudy-site": _types("Location"),
    "ResearchStudy-sponsor": _types("Organization"),
    "ResearchSubject-individual": _types("Patient"),
    "ResearchSubject-patient": _types("Patient"),
    "ResearchSubject-study": _types("ResearchStudy"),
    "RiskAssessment-condition": _types("Condition"),
    "RiskAssessment-performer": _types("Device Practitioner PractitionerRole"),
    "RiskAssessment-subject": _types("Group Patient"),
    "Schedule-actor": _types(
        "Device HealthcareService Location Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "SearchParameter-component": _types("SearchParameter"),
    "SearchParameter-derived-from": _types("SearchParameter"),
    "ServiceRequest-based-on": _types("CarePlan MedicationRequest ServiceRequest"),
    "ServiceRequest-instantiates-canonical": _types("ActivityDefinition PlanDefinition"),
    "ServiceRequest-performer": _types(
        "CareTeam Device HealthcareService Organization Patient Practitioner "
        "PractitionerRole RelatedPerson "
    ),
    "ServiceRequest-replaces": _types("ServiceRequest"),
    "ServiceRequest-requester": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "ServiceRequest-specimen": _types("Specimen"),
    "ServiceRequest-subject": _types("Device Group Location Patient"),
    "Slot-schedule": _types("Schedule"),
    "Specimen-collector": _types("Practitioner PractitionerRole"),
    "Specimen-parent": _types("Specimen"),
    "Specimen-patient": _types("Patient"),
    "Specimen-subject": _types("Device Group Location Patient Substance"),
    "StructureDefinition-base": _types("StructureDefinition"),
    "StructureDefinition-valueset": _types("ValueSet"),
    "Substance-substance-reference": _types("Substance"),
    "SupplyDelivery-receiver": _types("Practitioner PractitionerRole"),
    "SupplyDelivery-supplier": _types("Organization Practitioner PractitionerRole"),
    "SupplyRequest-requester": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "SupplyRequest-subject": _types("Location Organization Patient"),
    "SupplyRequest-supplier": _types("HealthcareService Organization"),
    "Task-based-on": (),
    "Task-encounter": _types("Encounter"),
    "Task-focus": (),
    "Task-owner": _types(
        "CareTeam Device HealthcareService Organization Patient Practitioner "
        "PractitionerRole RelatedPerson "
    ),
    "Task-part-of": _types("Task"),
    "Task-patient": _types("Patient"),
    "Task-requester": _types(
        "Device Organization Patient Practitioner PractitionerRole RelatedPerson "
    ),
    "Task-subject": (),
    "TestReport-testscript": _types("TestScript"),
    "VerificationResult-target": (),
    "VisionPrescription-prescriber": _types("Practitioner PractitionerRole"),
    "clinical-encounter": _types("Encounter EpisodeOfCare"),
    "clinical-patient": _types("Patient"),
    "medications-encounter": _types("Encounter"),
    "medications-medication": _types("Medication"),
    "medications-prescription": _types("MedicationRequest"),
}
