"""Top-level elements per type for ``_summary`` (search.html#summary). GENERATED.

Made by ``scripts/generate_summary_elements.py`` from the R4 (4.0.1) StructureDefinitions
(HL7, CC0); do not edit by hand. ``SUMMARY``: elements marked ``isSummary``; ``MANDATORY``:
elements with ``min >= 1``. A choice element is written ``name[x]``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MANDATORY", "SUMMARY"]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


SUMMARY: Final[dict[str, frozenset[str]]] = {
    "Account": _names(
        "coverage description id identifier implicitRules meta name owner servicePeriod "
        "status subject type "
    ),
    "ActivityDefinition": _names(
        "code contact date description doNotPerform effectivePeriod experimental id "
        "identifier implicitRules jurisdiction kind meta name publisher status title url "
        "useContext version "
    ),
    "AdverseEvent": _names(
        "actuality category contributor date detected encounter event id identifier "
        "implicitRules location meta outcome recordedDate recorder referenceDocument "
        "resultingCondition seriousness severity study subject subjectMedicalHistory "
        "suspectEntity "
    ),
    "AllergyIntolerance": _names(
        "asserter category clinicalStatus code criticality id identifier implicitRules "
        "meta patient type verificationStatus "
    ),
    "Appointment": _names(
        "appointmentType cancelationReason end id identifier implicitRules meta "
        "reasonCode serviceCategory serviceType specialty start status "
    ),
    "AppointmentResponse": _names(
        "actor appointment id identifier implicitRules meta participantStatus participantType "
    ),
    "AuditEvent": _names(
        "action id implicitRules meta outcome outcomeDesc purposeOfEvent recorded subtype type "
    ),
    "Basic": _names("author code created id identifier implicitRules meta subject"),
    "Binary": _names("contentType id implicitRules meta securityContext url"),
    "BiologicallyDerivedProduct": _names("id identifier implicitRules meta"),
    "BodyStructure": _names(
        "active description id identifier implicitRules location meta morphology patient"
    ),
    "Bundle": _names("entry id identifier implicitRules link meta signature timestamp total type"),
    "CapabilityStatement": _names(
        "contact date document experimental fhirVersion format id implementation "
        "implementationGuide implicitRules imports instantiates jurisdiction kind "
        "messaging meta name patchFormat publisher rest software status title url "
        "useContext version "
    ),
    "CarePlan": _names(
        "addresses author basedOn category created description encounter id identifier "
        "implicitRules instantiatesCanonical instantiatesUri intent meta partOf period "
        "replaces status subject title "
    ),
    "CareTeam": _names(
        "category encounter id identifier implicitRules managingOrganization meta name "
        "period status subject "
    ),
    "CatalogEntry": _names("id identifier implicitRules meta orderable referencedItem"),
    "ChargeItem": _names(
        "account bodysite code context enteredDate enterer id identifier implicitRules "
        "meta occurrence[x] quantity status subject "
    ),
    "ChargeItemDefinition": _names(
        "code contact date derivedFromUri description effectivePeriod experimental id "
        "identifier implicitRules jurisdiction meta partOf publisher replaces status "
        "title url useContext version "
    ),
    "Claim": _names(
        "billablePeriod created id implicitRules insurance insurer meta patient priority "
        "provider status type use "
    ),
    "ClaimResponse": _names(
        "created id implicitRules insurer meta outcome patient request status total type use "
    ),
    "ClinicalImpression": _names(
        "assessor code date description effective[x] encounter id identifier "
        "implicitRules meta problem status subject "
    ),
    "CodeSystem": _names(
        "caseSensitive compositional contact content count date experimental filter "
        "hierarchyMeaning id identifier implicitRules jurisdiction meta name property "
        "publisher status supplements title url useContext valueSet version versionNeeded "
    ),
    "Communication": _names(
        "basedOn encounter id identifier implicitRules instantiatesCanonical "
        "instantiatesUri meta partOf priority reasonCode reasonReference status "
        "statusReason subject "
    ),
    "CommunicationRequest": _names(
        "authoredOn basedOn doNotPerform encounter groupIdentifier id identifier "
        "implicitRules meta occurrence[x] priority reasonCode reasonReference replaces "
        "requester sender status "
    ),
    "CompartmentDefinition": _names(
        "code contact date experimental id implicitRules meta name publisher resource "
        "search status url useContext version "
    ),
    "Composition": _names(
        "author category confidentiality custodian date encounter event id identifier "
        "implicitRules meta status subject title type "
    ),
    "ConceptMap": _names(
        "contact date experimental id identifier implicitRules jurisdiction meta name "
        "publisher source[x] status target[x] title url useContext version "
    ),
    "Condition": _names(
        "asserter bodySite clinicalStatus code encounter id identifier implicitRules meta "
        "onset[x] recordedDate recorder subject verificationStatus "
    ),
    "Consent": _names(
        "category dateTime id identifier implicitRules meta organization patient "
        "performer policyRule provision scope source[x] status verification "
    ),
    "Contract": _names(
        "applies id identifier implicitRules issued meta name status subType subject "
        "title type version "
    ),
    "Coverage": _names(
        "beneficiary dependent id identifier implicitRules meta network order payor "
        "period policyHolder status subscriber subscriberId type "
    ),
    "CoverageEligibilityRequest": _names(
        "created id implicitRules insurer meta patient purpose status"
    ),
    "CoverageEligibilityResponse": _names(
        "created id implicitRules insurer meta outcome patient purpose request status"
    ),
    "DetectedIssue": _names(
        "author code id identified[x] identifier implicated implicitRules meta patient "
        "severity status "
    ),
    "Device": _names("id implicitRules meta safety status udiCarrier"),
    "DeviceDefinition": _names("bodySite id implicitRules meta parentDevice safety"),
    "DeviceMetric": _names(
        "calibration category color id identifier implicitRules measurementPeriod meta "
        "operationalStatus parent source type unit "
    ),
    "DeviceRequest": _names(
        "authoredOn basedOn code[x] encounter groupIdentifier id identifier implicitRules "
        "instantiatesCanonical instantiatesUri intent meta occurrence[x] performer "
        "performerType priorRequest priority reasonCode reasonReference requester status "
        "subject "
    ),
    "DeviceUseStatement": _names(
        "basedOn bodySite derivedFrom device id identifier implicitRules meta reasonCode "
        "reasonReference recordedOn source status subject timing[x] "
    ),
    "DiagnosticReport": _names(
        "category code effective[x] encounter id identifier implicitRules issued media "
        "meta performer resultsInterpreter status subject "
    ),
    "DocumentManifest": _names(
        "author content description id identifier implicitRules masterIdentifier meta "
        "status subject type "
    ),
    "DocumentReference": _names(
        "author category content context date description docStatus id identifier "
        "implicitRules masterIdentifier meta relatesTo securityLabel status subject type "
    ),
    "EffectEvidenceSynthesis": _names(
        "contact date description effectEstimate effectivePeriod exposure "
        "exposureAlternative id identifier implicitRules jurisdiction meta name outcome "
        "population publisher status title url useContext version "
    ),
    "Encounter": _names(
        "appointment class diagnosis episodeOfCare id identifier implicitRules meta "
        "participant reasonCode reasonReference serviceType status subject type "
    ),
    "Endpoint": _names(
        "address connectionType id identifier implicitRules managingOrganization meta "
        "name payloadMimeType payloadType period status "
    ),
    "EnrollmentRequest": _names("id implicitRules meta status"),
    "EnrollmentResponse": _names("id implicitRules meta status"),
    "EpisodeOfCare": _names(
        "diagnosis id implicitRules managingOrganization meta patient period status type"
    ),
    "EventDefinition": _names(
        "approvalDate contact date effectivePeriod experimental id identifier "
        "implicitRules jurisdiction lastReviewDate meta name publisher status title "
        "trigger url useContext version "
    ),
    "Evidence": _names(
        "contact date description effectivePeriod exposureBackground exposureVariant id "
        "identifier implicitRules jurisdiction meta name outcome publisher status title "
        "url useContext version "
    ),
    "EvidenceVariable": _names(
        "characteristic contact date description effectivePeriod id identifier "
        "implicitRules jurisdiction meta name publisher shortTitle status title type url "
        "useContext version "
    ),
    "ExampleScenario": _names(
        "contact date experimental id identifier implicitRules jurisdiction meta name "
        "publisher status url useContext version "
    ),
    "ExplanationOfBenefit": _names(
        "billablePeriod created id implicitRules insurance insurer meta outcome patient "
        "provider status total type use "
    ),
    "FamilyMemberHistory": _names(
        "age[x] dataAbsentReason date deceased[x] estimatedAge id identifier "
        "implicitRules instantiatesCanonical instantiatesUri meta name patient reasonCode "
        "reasonReference relationship sex status "
    ),
    "Flag": _names(
        "author category code encounter id identifier implicitRules meta period status subject "
    ),
    "Goal": _names(
        "achievementStatus category description expressedBy id implicitRules "
        "lifecycleStatus meta priority start[x] statusDate subject "
    ),
    "GraphDefinition": _names(
        "contact date experimental id implicitRules jurisdiction meta name publisher "
        "start status url useContext version "
    ),
    "Group": _names(
        "active actual code id identifier implicitRules managingEntity meta name quantity type "
    ),
    "GuidanceResponse": _names(
        "id identifier implicitRules meta module[x] requestIdentifier status"
    ),
    "HealthcareService": _names(
        "active category comment id identifier implicitRules location meta name photo "
        "providedBy specialty type "
    ),
    "ImagingStudy": _names(
        "basedOn description encounter endpoint id identifier implicitRules interpreter "
        "location meta modality note numberOfInstances numberOfSeries procedureCode "
        "procedureReference reasonCode reasonReference referrer series started status "
        "subject "
    ),
    "Immunization": _names(
        "id implicitRules isSubpotent meta note occurrence[x] patient performer "
        "primarySource status vaccineCode "
    ),
    "ImmunizationEvaluation": _names(
        "doseStatus id immunizationEvent implicitRules meta patient status targetDisease"
    ),
    "ImmunizationRecommendation": _names(
        "date id identifier implicitRules meta patient recommendation"
    ),
    "ImplementationGuide": _names(
        "contact date dependsOn experimental fhirVersion global id implicitRules "
        "jurisdiction license meta name packageId publisher status title url useContext "
        "version "
    ),
    "InsurancePlan": _names(
        "administeredBy coverageArea id identifier implicitRules meta name ownedBy status type "
    ),
    "Invoice": _names(
        "date id identifier implicitRules meta recipient status subject totalGross totalNet type "
    ),
    "Library": _names(
        "contact content date description effectivePeriod experimental id identifier "
        "implicitRules jurisdiction meta name publisher status title type url useContext "
        "version "
    ),
    "Linkage": _names("active author id implicitRules item meta"),
    "List": _names("code date id implicitRules meta mode source status subject title"),
    "Location": _names(
        "description id identifier implicitRules managingOrganization meta mode name "
        "operationalStatus physicalType status type "
    ),
    "Measure": _names(
        "clinicalRecommendationStatement compositeScoring contact date definition "
        "description disclaimer effectivePeriod experimental guidance id identifier "
        "implicitRules improvementNotation jurisdiction meta name publisher "
        "rateAggregation rationale riskAdjustment scoring status title type url "
        "useContext version "
    ),
    "MeasureReport": _names(
        "date id identifier implicitRules improvementNotation measure meta period "
        "reporter status subject type "
    ),
    "Media": _names(
        "basedOn bodySite content created[x] device deviceName duration encounter frames "
        "height id identifier implicitRules issued meta modality operator partOf "
        "reasonCode status subject type view width "
    ),
    "Medication": _names("amount code id identifier implicitRules manufacturer meta status"),
    "MedicationAdministration": _names(
        "effective[x] id implicitRules instantiates medication[x] meta partOf performer "
        "status subject "
    ),
    "MedicationDispense": _names("id implicitRules medication[x] meta status subject whenPrepared"),
    "MedicationKnowledge": _names("amount code id implicitRules manufacturer meta status synonym"),
    "MedicationRequest": _names(
        "authoredOn basedOn doNotPerform groupIdentifier id implicitRules "
        "instantiatesCanonical instantiatesUri intent medication[x] meta performerType "
        "priority reported[x] requester status subject "
    ),
    "MedicationStatement": _names(
        "basedOn category context dateAsserted effective[x] id identifier implicitRules "
        "medication[x] meta partOf status subject "
    ),
    "MedicinalProduct": _names(
        "additionalMonitoringIndicator attachedDocument clinicalTrial "
        "combinedPharmaceuticalDoseForm contact crossReference domain id identifier "
        "implicitRules legalStatusOfSupply manufacturingBusinessOperation marketingStatus "
        "masterFile meta name packagedMedicinalProduct paediatricUseIndicator "
        "pharmaceuticalProduct productClassification specialDesignation specialMeasures "
        "type "
    ),
    "MedicinalProductAuthorization": _names(
        "country dataExclusivityPeriod dateOfFirstAuthorization holder id identifier "
        "implicitRules internationalBirthDate jurisdiction jurisdictionalAuthorization "
        "legalBasis meta procedure regulator restoreDate status statusDate subject "
        "validityPeriod "
    ),
    "MedicinalProductContraindication": _names(
        "comorbidity disease diseaseStatus id implicitRules meta otherTherapy population "
        "subject therapeuticIndication "
    ),
    "MedicinalProductIndication": _names(
        "comorbidity diseaseStatus diseaseSymptomProcedure duration id implicitRules "
        "intendedEffect meta otherTherapy population subject undesirableEffect "
    ),
    "MedicinalProductIngredient": _names(
        "allergenicIndicator id identifier implicitRules manufacturer meta role "
        "specifiedSubstance substance "
    ),
    "MedicinalProductInteraction": _names(
        "description effect id implicitRules incidence interactant management meta subject type "
    ),
    "MedicinalProductManufactured": _names(
        "id implicitRules ingredient manufacturedDoseForm manufacturer meta "
        "otherCharacteristics physicalCharacteristics quantity unitOfPresentation "
    ),
    "MedicinalProductPackaged": _names(
        "batchIdentifier description id identifier implicitRules legalStatusOfSupply "
        "manufacturer marketingAuthorization marketingStatus meta packageItem subject "
    ),
    "MedicinalProductPharmaceutical": _names(
        "administrableDoseForm characteristics device id identifier implicitRules "
        "ingredient meta routeOfAdministration unitOfPresentation "
    ),
    "MedicinalProductUndesirableEffect": _names(
        "classification frequencyOfOccurrence id implicitRules meta population subject "
        "symptomConditionEffect "
    ),
    "MessageDefinition": _names(
        "base category contact date description event[x] experimental focus id identifier "
        "implicitRules jurisdiction meta name parent publisher purpose replaces status "
        "title url useContext version "
    ),
    "MessageHeader": _names(
        "author definition destination enterer event[x] focus id implicitRules meta "
        "reason response responsible sender source "
    ),
    "MolecularSequence": _names(
        "coordinateSystem device id identifier implicitRules meta observedSeq patient "
        "performer pointer quality quantity readCoverage referenceSeq repository specimen "
        "structureVariant type variant "
    ),
    "NamingSystem": _names(
        "contact date id implicitRules jurisdiction kind meta name publisher status "
        "uniqueId useContext "
    ),
    "NutritionOrder": _names(
        "dateTime id implicitRules instantiatesCanonical instantiatesUri intent meta "
        "orderer patient status "
    ),
    "Observation": _names(
        "basedOn code component derivedFrom effective[x] encounter focus hasMember id "
        "identifier implicitRules issued meta partOf performer status subject value[x] "
    ),
    "ObservationDefinition": _names("category code id identifier implicitRules meta"),
    "OperationDefinition": _names(
        "affectsState base code contact date experimental id implicitRules instance "
        "jurisdiction kind meta name publisher resource status system title type url "
        "useContext version "
    ),
    "OperationOutcome": _names("id implicitRules issue meta"),
    "Organization": _names("active id identifier implicitRules meta name partOf type"),
    "OrganizationAffiliation": _names(
        "active code id identifier implicitRules location meta network organization "
        "participatingOrganization period specialty telecom "
    ),
    "Parameters": _names("id implicitRules meta parameter"),
    "Patient": _names(
        "active address birthDate deceased[x] gender id identifier implicitRules link "
        "managingOrganization meta name telecom "
    ),
    "PaymentNotice": _names("amount created id implicitRules meta payment recipient status"),
    "PaymentReconciliation": _names(
        "created id implicitRules meta paymentAmount paymentDate paymentIssuer period status "
    ),
    "Person": _names(
        "active birthDate gender id implicitRules managingOrganization meta name telecom"
    ),
    "PlanDefinition": _names(
        "contact date description effectivePeriod experimental id identifier "
        "implicitRules jurisdiction meta name publisher status title type url useContext "
        "version "
    ),
    "Practitioner": _names(
        "active address birthDate gender id identifier implicitRules meta name telecom"
    ),
    "PractitionerRole": _names(
        "active code id identifier implicitRules location meta organization period "
        "practitioner specialty telecom "
    ),
    "Procedure": _names(
        "asserter basedOn bodySite category code encounter id identifier implicitRules "
        "instantiatesCanonical instantiatesUri location meta outcome partOf performed[x] "
        "performer reasonCode reasonReference recorder status statusReason subject "
    ),
    "Provenance": _names("id implicitRules meta recorded target"),
    "Questionnaire": _names(
        "code contact date effectivePeriod experimental id identifier implicitRules "
        "jurisdiction meta name publisher status subjectType title url useContext version "
    ),
    "QuestionnaireResponse": _names(
        "author authored basedOn encounter id identifier implicitRules meta partOf "
        "questionnaire source status subject "
    ),
    "RelatedPerson": _names(
        "active address birthDate gender id identifier implicitRules meta name patient "
        "relationship telecom "
    ),
    "RequestGroup": _names(
        "code groupIdentifier id identifier implicitRules instantiatesCanonical "
        "instantiatesUri intent meta priority status "
    ),
    "ResearchDefinition": _names(
        "contact date description effectivePeriod experimental exposure "
        "exposureAlternative id identifier implicitRules jurisdiction meta name outcome "
        "population publisher status title url useContext version "
    ),
    "ResearchElementDefinition": _names(
        "characteristic contact date description effectivePeriod experimental id "
        "identifier implicitRules jurisdiction meta name publisher shortTitle status "
        "title type url useContext version "
    ),
    "ResearchStudy": _names(
        "category condition contact enrollment focus id identifier implicitRules keyword "
        "location meta partOf period phase primaryPurposeType principalInvestigator "
        "protocol reasonStopped recruitment region result site sponsor status studyDesign "
        "title whyStopped "
    ),
    "ResearchSubject": _names("id identifier implicitRules individual meta period status study"),
    "RiskAssessment": _names(
        "code condition encounter id identifier implicitRules meta method occurrence[x] "
        "performer status subject "
    ),
    "RiskEvidenceSynthesis": _names(
        "contact date description effectivePeriod exposure id identifier implicitRules "
        "jurisdiction meta name outcome population publisher riskEstimate status title "
        "url useContext version "
    ),
    "Schedule": _names(
        "active actor id identifier implicitRules meta planningHorizon serviceCategory "
        "serviceType specialty "
    ),
    "SearchParameter": _names(
        "base code contact date description experimental id implicitRules jurisdiction "
        "meta name publisher status type url useContext version "
    ),
    "ServiceRequest": _names(
        "asNeeded[x] authoredOn basedOn bodySite category code doNotPerform encounter id "
        "identifier implicitRules instantiatesCanonical instantiatesUri intent "
        "locationCode locationReference meta occurrence[x] orderDetail patientInstruction "
        "performer performerType priority quantity[x] reasonCode reasonReference replaces "
        "requester requisition specimen status subject "
    ),
    "Slot": _names(
        "appointmentType end id identifier implicitRules meta schedule serviceCategory "
        "serviceType specialty start status "
    ),
    "Specimen": _names(
        "accessionIdentifier condition id identifier implicitRules meta receivedTime "
        "status subject type "
    ),
    "SpecimenDefinition": _names(
        "collection id identifier implicitRules meta patientPreparation timeAspect typeCollected "
    ),
    "StructureDefinition": _names(
        "abstract baseDefinition contact context contextInvariant date derivation "
        "experimental fhirVersion id identifier implicitRules jurisdiction keyword kind "
        "meta name publisher status title type url useContext version "
    ),
    "StructureMap": _names(
        "contact date experimental group id identifier implicitRules import jurisdiction "
        "meta name publisher status structure title url useContext version "
    ),
    "Subscription": _names(
        "channel contact criteria end error id implicitRules meta reason status"
    ),
    "SubscriptionStatus": _names(
        "error eventsSinceSubscriptionStart id implicitRules meta status subscription topic type "
    ),
    "Substance": _names(
        "category code description id identifier implicitRules ingredient instance meta status "
    ),
    "SubstanceNucleicAcid": _names(
        "areaOfHybridisation id implicitRules meta numberOfSubunits oligoNucleotideType "
        "sequenceType subunit "
    ),
    "SubstancePolymer": _names(
        "class copolymerConnectivity geometry id implicitRules meta modification monomerSet repeat "
    ),
    "SubstanceProtein": _names(
        "disulfideLinkage id implicitRules meta numberOfSubunits sequenceType subunit"
    ),
    "SubstanceReferenceInformation": _names(
        "classification comment gene geneElement id implicitRules meta target"
    ),
    "SubstanceSourceMaterial": _names(
        "countryOfOrigin developmentStage fractionDescription geographicalLocation id "
        "implicitRules meta organism organismId organismName parentSubstanceId "
        "parentSubstanceName partDescription sourceMaterialClass sourceMaterialState "
        "sourceMaterialType "
    ),
    "SubstanceSpecification": _names(
        "code comment description domain id identifier implicitRules meta moiety "
        "molecularWeight name nucleicAcid polymer property protein referenceInformation "
        "relationship source sourceMaterial status structure type "
    ),
    "SupplyDelivery": _names("basedOn id implicitRules meta occurrence[x] partOf status"),
    "SupplyRequest": _names(
        "authoredOn category id identifier implicitRules item[x] meta occurrence[x] "
        "priority quantity requester status supplier "
    ),
    "Task": _names(
        "basedOn businessStatus code description encounter executionPeriod focus for "
        "groupIdentifier id implicitRules instantiatesCanonical instantiatesUri intent "
        "lastModified location meta owner partOf requester status statusReason "
    ),
    "TerminologyCapabilities": _names(
        "contact copyright date experimental id implementation implicitRules jurisdiction "
        "kind lockedDate meta name publisher software status title url useContext version "
    ),
    "TestReport": _names(
        "id identifier implicitRules issued meta name result score status testScript tester "
    ),
    "TestScript": _names(
        "contact date experimental id identifier implicitRules jurisdiction meta name "
        "publisher status title url useContext version "
    ),
    "ValueSet": _names(
        "contact date experimental id identifier immutable implicitRules jurisdiction "
        "meta name publisher status title url useContext version "
    ),
    "VerificationResult": _names(
        "failureAction id implicitRules meta need status statusDate target targetLocation "
        "validationProcess validationType "
    ),
    "VisionPrescription": _names(
        "created dateWritten id implicitRules lensSpecification meta patient prescriber status "
    ),
}

MANDATORY: Final[dict[str, frozenset[str]]] = {
    "Account": _names("status"),
    "ActivityDefinition": _names("status"),
    "AdverseEvent": _names("actuality subject"),
    "AllergyIntolerance": _names("patient"),
    "Appointment": _names("participant status"),
    "AppointmentResponse": _names("appointment participantStatus"),
    "AuditEvent": _names("agent recorded source type"),
    "Basic": _names("code"),
    "Binary": _names("contentType"),
    "BiologicallyDerivedProduct": _names(""),
    "BodyStructure": _names("patient"),
    "Bundle": _names("type"),
    "CapabilityStatement": _names("date fhirVersion format kind status"),
    "CarePlan": _names("intent status subject"),
    "CareTeam": _names(""),
    "CatalogEntry": _names("orderable referencedItem"),
    "ChargeItem": _names("code status subject"),
    "ChargeItemDefinition": _names("status url"),
    "Claim": _names("created insurance patient priority provider status type use"),
    "ClaimResponse": _names("created insurer outcome patient status type use"),
    "ClinicalImpression": _names("status subject"),
    "CodeSystem": _names("content status"),
    "Communication": _names("status"),
    "CommunicationRequest": _names("status"),
    "CompartmentDefinition": _names("code name search status url"),
    "Composition": _names("author date status title type"),
    "ConceptMap": _names("status"),
    "Condition": _names("subject"),
    "Consent": _names("category scope status"),
    "Contract": _names(""),
    "Coverage": _names("beneficiary payor status"),
    "CoverageEligibilityRequest": _names("created insurer patient purpose status"),
    "CoverageEligibilityResponse": _names("created insurer outcome patient purpose request status"),
    "DetectedIssue": _names("status"),
    "Device": _names(""),
    "DeviceDefinition": _names(""),
    "DeviceMetric": _names("category type"),
    "DeviceRequest": _names("code[x] intent subject"),
    "DeviceUseStatement": _names("device status subject"),
    "DiagnosticReport": _names("code status"),
    "DocumentManifest": _names("content status"),
    "DocumentReference": _names("content status"),
    "EffectEvidenceSynthesis": _names("exposure exposureAlternative outcome population status"),
    "Encounter": _names("class status"),
    "Endpoint": _names("address connectionType payloadType status"),
    "EnrollmentRequest": _names(""),
    "EnrollmentResponse": _names(""),
    "EpisodeOfCare": _names("patient status"),
    "EventDefinition": _names("status trigger"),
    "Evidence": _names("exposureBackground status"),
    "EvidenceVariable": _names("status"),
    "ExampleScenario": _names("status"),
    "ExplanationOfBenefit": _names(
        "created insurance insurer outcome patient provider status type use"
    ),
    "FamilyMemberHistory": _names("patient relationship status"),
    "Flag": _names("code status subject"),
    "Goal": _names("description lifecycleStatus subject"),
    "GraphDefinition": _names("name start status"),
    "Group": _names("actual type"),
    "GuidanceResponse": _names("module[x] status"),
    "HealthcareService": _names(""),
    "ImagingStudy": _names("status subject"),
    "Immunization": _names("occurrence[x] patient status vaccineCode"),
    "ImmunizationEvaluation": _names("doseStatus immunizationEvent patient status targetDisease"),
    "ImmunizationRecommendation": _names("date patient recommendation"),
    "ImplementationGuide": _names("fhirVersion name packageId status url"),
    "InsurancePlan": _names(""),
    "Invoice": _names("status"),
    "Library": _names("status type"),
    "Linkage": _names("item"),
    "List": _names("mode status"),
    "Location": _names(""),
    "Measure": _names("status"),
    "MeasureReport": _names("measure period status type"),
    "Media": _names("content status"),
    "Medication": _names(""),
    "MedicationAdministration": _names("effective[x] medication[x] status subject"),
    "MedicationDispense": _names("medication[x] status"),
    "MedicationKnowledge": _names(""),
    "MedicationRequest": _names("intent medication[x] status subject"),
    "MedicationStatement": _names("medication[x] status subject"),
    "MedicinalProduct": _names("name"),
    "MedicinalProductAuthorization": _names(""),
    "MedicinalProductContraindication": _names(""),
    "MedicinalProductIndication": _names(""),
    "MedicinalProductIngredient": _names("role"),
    "MedicinalProductInteraction": _names(""),
    "MedicinalProductManufactured": _names("manufacturedDoseForm quantity"),
    "MedicinalProductPackaged": _names("packageItem"),
    "MedicinalProductPharmaceutical": _names("administrableDoseForm routeOfAdministration"),
    "MedicinalProductUndesirableEffect": _names(""),
    "MessageDefinition": _names("date event[x] status"),
    "MessageHeader": _names("event[x] source"),
    "MolecularSequence": _names("coordinateSystem"),
    "NamingSystem": _names("date kind name status uniqueId"),
    "NutritionOrder": _names("dateTime intent patient status"),
    "Observation": _names("code status"),
    "ObservationDefinition": _names("code"),
    "OperationDefinition": _names("code instance kind name status system type"),
    "OperationOutcome": _names("issue"),
    "Organization": _names(""),
    "OrganizationAffiliation": _names(""),
    "Parameters": _names(""),
    "Patient": _names(""),
    "PaymentNotice": _names("amount created payment recipient status"),
    "PaymentReconciliation": _names("created paymentAmount paymentDate status"),
    "Person": _names(""),
    "PlanDefinition": _names("status"),
    "Practitioner": _names(""),
    "PractitionerRole": _names(""),
    "Procedure": _names("status subject"),
    "Provenance": _names("agent recorded target"),
    "Questionnaire": _names("status"),
    "QuestionnaireResponse": _names("status"),
    "RelatedPerson": _names("patient"),
    "RequestGroup": _names("intent status"),
    "ResearchDefinition": _names("population status"),
    "ResearchElementDefinition": _names("characteristic status type"),
    "ResearchStudy": _names("status"),
    "ResearchSubject": _names("individual status study"),
    "RiskAssessment": _names("status subject"),
    "RiskEvidenceSynthesis": _names("outcome population status"),
    "Schedule": _names("actor"),
    "SearchParameter": _names("base code description name status type url"),
    "ServiceRequest": _names("intent status subject"),
    "Slot": _names("end schedule start status"),
    "Specimen": _names(""),
    "SpecimenDefinition": _names(""),
    "StructureDefinition": _names("abstract kind name status type url"),
    "StructureMap": _names("group name status url"),
    "Subscription": _names("channel criteria reason status"),
    "SubscriptionStatus": _names("subscription type"),
    "Substance": _names("code"),
    "SubstanceNucleicAcid": _names(""),
    "SubstancePolymer": _names(""),
    "SubstanceProtein": _names(""),
    "SubstanceReferenceInformation": _names(""),
    "SubstanceSourceMaterial": _names(""),
    "SubstanceSpecification": _names(""),
    "SupplyDelivery": _names(""),
    "SupplyRequest": _names("item[x] quantity"),
    "Task": _names("intent status"),
    "TerminologyCapabilities": _names("date kind status"),
    "TestReport": _names("result status testScript"),
    "TestScript": _names("name status url"),
    "ValueSet": _names("status"),
    "VerificationResult": _names("status"),
    "VisionPrescription": _names("created dateWritten lensSpecification patient prescriber status"),
}
