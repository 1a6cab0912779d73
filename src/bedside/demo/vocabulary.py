"""Value tables for the demo-data generator: code systems, codes and plausible ranges.

Names are common given and family names combined at random by the generator; no entry
describes a real person. Codes are standard terminology (LOINC, SNOMED CT, RxNorm, CVX).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ABNORMAL_LABS",
    "ACT_CODE",
    "ACT_SITE",
    "ADMINISTERING_PROVIDER",
    "ALLERGIES",
    "ALLERGY_ACTIVE",
    "ALLERGY_CLINICAL",
    "ALLERGY_CONFIRMED",
    "ALLERGY_VER",
    "ANAPHYLAXIS",
    "ATTENDER",
    "BP_DIASTOLIC",
    "BP_PANEL",
    "BP_SYSTOLIC",
    "CARE_PLAN_CATEGORY",
    "CARE_TEAM_CATEGORY",
    "CITIES",
    "CONDITIONS",
    "CONDITION_ACTIVE",
    "CONDITION_CATEGORY",
    "CONDITION_CLINICAL",
    "CONDITION_CONFIRMED",
    "CONDITION_RESOLVED",
    "CONDITION_VER",
    "CVX",
    "ENCOUNTER_CLASSES",
    "ENCOUNTER_DIAGNOSIS",
    "ENCOUNTER_TYPES",
    "FAMILY",
    "FEMALE_GIVEN",
    "INTERPRETATIONS",
    "LABS",
    "LAB_CATEGORY",
    "LOCATION_PHYSICAL_TYPE",
    "LOCATION_SID",
    "LOINC",
    "MALE_GIVEN",
    "MEDICATIONS",
    "MRN_SID",
    "MRN_TYPE",
    "NPI",
    "OBS_CATEGORIES",
    "OBS_CATEGORY",
    "OBS_INTERPRETATION",
    "ORG_IDENTIFIER",
    "ORG_NAME",
    "ORG_SID",
    "ORG_TYPE",
    "ORG_TYPE_PROVIDER",
    "PANELS",
    "PARTICIPATION_TYPE",
    "PROBLEM_LIST_ITEM",
    "PROCEDURES",
    "QUALIFICATIONS",
    "ROLE_GP",
    "ROLE_NURSE",
    "ROUTE_OF_ADMINISTRATION",
    "RXNORM",
    "SNOMED",
    "STREETS",
    "UCUM",
    "V2_0074",
    "V2_0203",
    "V2_0360",
    "V2_0443",
    "VACCINES",
    "VACCINE_ROUTE",
    "VACCINE_SITE",
    "VITALS",
    "WARDS",
    "WARD_TYPE",
    "AllergyKind",
    "Code",
    "ConditionKind",
    "Lab",
    "Medication",
]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
NPI = "http://hl7.org/fhir/sid/us-npi"
ORG_SID = "https://bedside.example/fhir/sid/org"
LOCATION_SID = "https://bedside.example/fhir/sid/location"
MRN_SID = "https://bedside.example/fhir/sid/mrn"
ORG_IDENTIFIER = "BEDSIDE-DEMO-HOSP"
ORG_NAME = "Bedside Demo General Hospital"

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
OBS_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0360 = "http://terminology.hl7.org/CodeSystem/v2-0360|2.7"
V2_0443 = "http://terminology.hl7.org/CodeSystem/v2-0443"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VER = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
ACT_SITE = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
ROUTE_OF_ADMINISTRATION = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str


@dataclass(frozen=True)
class Medication:
    code: Code
    dose: float
    dose_unit: str  # UCUM
    route: Code
    instruction: str
    chronic: bool  # an ongoing prescription (active) rather than a finished course


@dataclass(frozen=True)
class Lab:
    code: Code
    unit: str  # UCUM
    low: float  # reference range
    high: float
    decimals: int


@dataclass(frozen=True)
class ConditionKind:
    code: Code
    chronic: bool
    medications: tuple[str, ...]  # keys of MEDICATIONS; one the patient tolerates is chosen
    plan_title: str
    plan_activities: tuple[tuple[Code | None, str], ...]


@dataclass(frozen=True)
class AllergyKind:
    code: Code
    category: str
    manifestations: tuple[Code, ...]
    avoid: tuple[str, ...]  # medication keys contraindicated by this allergy


MALE_GIVEN = (
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Daniel", "Matthew", "Anthony", "Mark", "Paul", "Steven", "Andrew", "Kevin", "Brian",
)  # fmt: skip
FEMALE_GIVEN = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
    "Sarah", "Karen", "Nancy", "Lisa", "Margaret", "Sandra", "Ashley", "Emily", "Laura", "Anna",
)  # fmt: skip
FAMILY = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young",
    "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell",
)  # fmt: skip
STREETS = (
    "Maple Street", "Oak Avenue", "Cedar Lane", "Elm Street", "Pine Road", "Lakeview Drive",
    "Hillcrest Avenue", "Park Place", "River Road", "Willow Court", "Meadow Lane", "Church Street",
)  # fmt: skip
# (city, state, ZIP prefix): invented small towns
CITIES = (
    ("Brookfield Falls", "MA", "013"), ("Riverton Springs", "MA", "015"),
    ("Cedar Hollow", "NH", "032"), ("Millbrook Junction", "NH", "034"),
    ("Ashford Green", "CT", "062"), ("Willow Bend", "CT", "064"),
)  # fmt: skip

# (identifier value, name)
WARDS = (
    ("WARD-3A", "Ward 3A - General Medicine"),
    ("WARD-4B", "Ward 4B - Cardiology"),
    ("WARD-5C", "Ward 5C - Respiratory Medicine"),
)

ENCOUNTER_CLASSES = {
    "AMB": Code(ACT_CODE, "AMB", "ambulatory"),
    "EMER": Code(ACT_CODE, "EMER", "emergency"),
    "IMP": Code(ACT_CODE, "IMP", "inpatient encounter"),
}
ENCOUNTER_TYPES = {
    "AMB": Code(SNOMED, "185349003", "Encounter for check up (procedure)"),
    "EMER": Code(SNOMED, "50849002", "Emergency room admission (procedure)"),
    "IMP": Code(SNOMED, "32485007", "Hospital admission (procedure)"),
}

VITALS = {
    "heart_rate": (Code(LOINC, "8867-4", "Heart rate"), "/min", "beats/minute"),
    "respiratory_rate": (Code(LOINC, "9279-1", "Respiratory rate"), "/min", "breaths/minute"),
    "temperature": (Code(LOINC, "8310-5", "Body temperature"), "Cel", "°C"),
    "spo2": (Code(LOINC, "2708-6", "Oxygen saturation in Arterial blood"), "%", "%"),
    "weight": (Code(LOINC, "29463-7", "Body weight"), "kg", "kg"),
    "height": (Code(LOINC, "8302-2", "Body height"), "cm", "cm"),
}
BP_PANEL = Code(LOINC, "85354-9", "Blood pressure panel with all children optional")
BP_SYSTOLIC = Code(LOINC, "8480-6", "Systolic blood pressure")
BP_DIASTOLIC = Code(LOINC, "8462-4", "Diastolic blood pressure")

LABS = {
    "hemoglobin": Lab(
        Code(LOINC, "718-7", "Hemoglobin [Mass/volume] in Blood"), "g/dL", 12.0, 17.5, 1
    ),
    "hematocrit": Lab(
        Code(LOINC, "4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count"),
        "%", 36.0, 50.0, 1,
    ),
    "wbc": Lab(
        Code(LOINC, "6690-2", "Leukocytes [#/volume] in Blood by Automated count"),
        "10*3/uL", 4.0, 11.0, 1,
    ),
    "platelets": Lab(
        Code(LOINC, "777-3", "Platelets [#/volume] in Blood by Automated count"),
        "10*3/uL", 150.0, 400.0, 0,
    ),
    "glucose": Lab(Code(LOINC, "2339-0", "Glucose [Mass/volume] in Blood"), "mg/dL", 70.0, 99.0, 0),
    "creatinine": Lab(
        Code(LOINC, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma"), "mg/dL", 0.6, 1.3, 2
    ),
    "potassium": Lab(
        Code(LOINC, "2823-3", "Potassium [Moles/volume] in Serum or Plasma"), "mmol/L", 3.5, 5.1, 1
    ),
    "sodium": Lab(
        Code(LOINC, "2951-2", "Sodium [Moles/volume] in Serum or Plasma"), "mmol/L", 135.0, 145.0, 0
    ),
    "urea": Lab(
        Code(LOINC, "3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma"),
        "mg/dL", 7.0, 20.0, 0,
    ),
}  # fmt: skip
PANELS = (
    (Code(LOINC, "58410-2", "CBC panel - Blood by Automated count"),
     ("hemoglobin", "hematocrit", "wbc", "platelets")),
    (Code(LOINC, "24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma"),
     ("glucose", "creatinine", "potassium", "sodium", "urea")),
)  # fmt: skip
# Lab results a condition pushes outside the reference range: condition code -> lab -> range
ABNORMAL_LABS = {
    "271737000": {"hemoglobin": (8.2, 11.4), "hematocrit": (26.0, 35.0)},
    "44054006": {"glucose": (130.0, 260.0)},
}

_ORAL = Code(SNOMED, "26643006", "Oral route (qualifier value)")
_INHALED = Code(SNOMED, "447694001", "Respiratory tract route (qualifier value)")
MEDICATIONS = {
    "metformin": Medication(
        Code(RXNORM, "860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet"),
        500, "mg", _ORAL, "500 mg by mouth once daily with the evening meal", chronic=True,
    ),
    "lisinopril": Medication(
        Code(RXNORM, "314076", "lisinopril 10 MG Oral Tablet"),
        10, "mg", _ORAL, "10 mg by mouth once daily", chronic=True,
    ),
    "amlodipine": Medication(
        Code(RXNORM, "197361", "amlodipine 5 MG Oral Tablet"),
        5, "mg", _ORAL, "5 mg by mouth once daily", chronic=True,
    ),
    "salbutamol": Medication(
        Code(RXNORM, "745679", "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"),
        2, "{puff}", _INHALED, "2 puffs inhaled every 4-6 hours as needed for wheeze",
        chronic=True,
    ),
    "ferrous_sulfate": Medication(
        Code(RXNORM, "310325", "ferrous sulfate 325 MG Oral Tablet"),
        325, "mg", _ORAL, "325 mg by mouth once daily before breakfast", chronic=True,
    ),
    "atorvastatin": Medication(
        Code(RXNORM, "617310", "atorvastatin 20 MG Oral Tablet"),
        20, "mg", _ORAL, "20 mg by mouth once daily at night", chronic=True,
    ),
    "amoxicillin": Medication(
        Code(RXNORM, "308191", "amoxicillin 500 MG Oral Capsule"),
        500, "mg", _ORAL, "500 mg by mouth three times daily for 10 days", chronic=False,
    ),
    "doxycycline": Medication(
        Code(RXNORM, "1649988", "doxycycline hyclate 100 MG Oral Capsule"),
        100, "mg", _ORAL, "100 mg by mouth twice daily for 10 days", chronic=False,
    ),
    "paracetamol": Medication(
        Code(RXNORM, "313782", "acetaminophen 325 MG Oral Tablet"),
        650, "mg", _ORAL, "650 mg by mouth every 6 hours as needed, max 3 g per day",
        chronic=False,
    ),
}  # fmt: skip

_EXERCISE = Code(SNOMED, "229065009", "Exercise therapy (regime/therapy)")
CONDITIONS = (
    ConditionKind(
        Code(SNOMED, "44054006", "Diabetes mellitus type 2 (disorder)"), True, ("metformin",),
        "Diabetes self-management plan",
        ((Code(SNOMED, "160670007", "Diabetic diet (finding)"), "Diabetic diet"),
         (_EXERCISE, "150 minutes of moderate exercise per week")),
    ),
    ConditionKind(
        Code(SNOMED, "38341003", "Hypertensive disorder, systemic arterial (disorder)"), True,
        ("lisinopril", "amlodipine"), "Hypertension management plan",
        ((None, "Home blood pressure monitoring twice weekly"), (_EXERCISE, "Regular exercise")),
    ),
    ConditionKind(
        Code(SNOMED, "195967001", "Asthma (disorder)"), True, ("salbutamol",),
        "Asthma action plan",
        ((None, "Inhaler technique review"), (None, "Avoid known triggers")),
    ),
    ConditionKind(
        Code(SNOMED, "271737000", "Anemia (disorder)"), True, ("ferrous_sulfate",),
        "Iron deficiency follow-up plan", ((None, "Repeat full blood count in 8 weeks"),),
    ),
    ConditionKind(
        Code(SNOMED, "40055000", "Chronic sinusitis (disorder)"), True,
        ("amoxicillin", "doxycycline"), "Sinus care plan",
        ((None, "Daily saline nasal irrigation"),),
    ),
    ConditionKind(
        Code(SNOMED, "55822004", "Hyperlipidemia (disorder)"), True, ("atorvastatin",),
        "Lipid management plan",
        ((None, "Low saturated fat diet"), (None, "Repeat lipid panel in 3 months")),
    ),
    ConditionKind(
        Code(SNOMED, "10509002", "Acute bronchitis (disorder)"), False, ("paracetamol",),
        "", (),
    ),
)  # fmt: skip

_RASH = Code(SNOMED, "271807003", "Eruption of skin (disorder)")
_URTICARIA = Code(SNOMED, "126485001", "Urticaria (disorder)")
_ANAPHYLAXIS = Code(SNOMED, "39579001", "Anaphylaxis (disorder)")
ALLERGIES = (
    AllergyKind(Code(SNOMED, "91936005", "Allergy to penicillin (finding)"), "medication",
                (_RASH, _URTICARIA, _ANAPHYLAXIS), ("amoxicillin",)),
    AllergyKind(Code(SNOMED, "300913006", "Shellfish allergy (finding)"), "food",
                (_URTICARIA, Code(SNOMED, "41291007", "Angioedema (disorder)"), _ANAPHYLAXIS), ()),
    AllergyKind(Code(SNOMED, "91935009", "Allergy to peanut (finding)"), "food",
                (_URTICARIA, _ANAPHYLAXIS), ()),
    AllergyKind(Code(SNOMED, "300916003", "Latex allergy (finding)"), "environment",
                (_RASH, _URTICARIA), ()),
    AllergyKind(Code(SNOMED, "418689008", "Allergy to grass pollen (finding)"), "environment",
                (Code(SNOMED, "61582004", "Allergic rhinitis (disorder)"),), ()),
)  # fmt: skip

# (code, minimum age in years)
VACCINES = (
    (Code(CVX, "140", "Influenza, seasonal, injectable, preservative free"), 18),
    (Code(CVX, "208", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, "
                      "preservative free, 30 mcg/0.3mL dose"), 18),
    (Code(CVX, "115", "Tdap"), 18),
    (Code(CVX, "187", "zoster vaccine recombinant"), 50),
    (Code(CVX, "33", "pneumococcal polysaccharide vaccine, 23 valent"), 65),
)  # fmt: skip

# (code, encounter classes it fits, surgical: reported with a performedPeriod)
PROCEDURES = (
    (Code(SNOMED, "29303009", "Electrocardiographic procedure (procedure)"),
     ("AMB", "EMER", "IMP"), False),
    (Code(SNOMED, "399208008", "Plain chest X-ray (procedure)"), ("EMER", "IMP"), False),
    (Code(SNOMED, "40701008", "Echocardiography (procedure)"), ("AMB", "IMP"), False),
    (Code(SNOMED, "73761001", "Colonoscopy (procedure)"), ("AMB",), True),
    (Code(SNOMED, "80146002", "Appendectomy (procedure)"), ("IMP",), True),
)  # fmt: skip

CARE_TEAM_CATEGORY = Code(LOINC, "LA28865-6", "Longitudinal care-coordination focused care team")
CARE_PLAN_CATEGORY = Code(SNOMED, "734163000", "Care plan (record artifact)")
ROLE_GP = Code(SNOMED, "446050000", "Primary care physician (occupation)")
ROLE_NURSE = Code(SNOMED, "224535009", "Registered nurse (occupation)")

# Fixed codings used by the generator
ORG_TYPE_PROVIDER = Code(ORG_TYPE, "prov", "Healthcare Provider")
WARD_TYPE = Code(LOCATION_PHYSICAL_TYPE, "wa", "Ward")
MRN_TYPE = Code(V2_0203, "MR", "Medical record number")
QUALIFICATIONS = {
    "physician": Code(V2_0360, "MD", "Doctor of Medicine"),
    "nurse": Code(V2_0360, "RN", "Registered Nurse"),
}
ATTENDER = Code(PARTICIPATION_TYPE, "ATND", "attender")
OBS_CATEGORIES = {
    "vital-signs": Code(OBS_CATEGORY, "vital-signs", "Vital Signs"),
    "laboratory": Code(OBS_CATEGORY, "laboratory", "Laboratory"),
}
INTERPRETATIONS = {
    "L": Code(OBS_INTERPRETATION, "L", "Low"),
    "N": Code(OBS_INTERPRETATION, "N", "Normal"),
    "H": Code(OBS_INTERPRETATION, "H", "High"),
}
LAB_CATEGORY = Code(V2_0074, "LAB", "Laboratory")
CONDITION_ACTIVE = Code(CONDITION_CLINICAL, "active", "Active")
CONDITION_RESOLVED = Code(CONDITION_CLINICAL, "resolved", "Resolved")
CONDITION_CONFIRMED = Code(CONDITION_VER, "confirmed", "Confirmed")
PROBLEM_LIST_ITEM = Code(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")
ENCOUNTER_DIAGNOSIS = Code(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")
ALLERGY_ACTIVE = Code(ALLERGY_CLINICAL, "active", "Active")
ALLERGY_CONFIRMED = Code(ALLERGY_VER, "confirmed", "Confirmed")
ANAPHYLAXIS = _ANAPHYLAXIS
VACCINE_SITE = Code(ACT_SITE, "LA", "left arm")
VACCINE_ROUTE = Code(ROUTE_OF_ADMINISTRATION, "IM", "Injection, intramuscular")
ADMINISTERING_PROVIDER = Code(V2_0443, "AP", "Administering Provider")
