"""One cross-benchmark risk taxonomy, so that a report can show one table over every benchmark.

The ids are ALERT's six macro categories (Tedeschi et al., 2024, arXiv:2404.08676, Sec. 3) plus
``over_refusal`` (benign prompts that must be answered), ``science_safety`` (objective questions
on scientific hazards, SafeSci) and one addition, ``misinformation``: disinformation, deception
and unqualified expert advice are a category of their own in HarmBench, StrongREJECT,
Do-Not-Answer, JailbreakBench, SORRY-Bench, SALAD-Bench and FigStep, and ALERT has no macro
category that holds them (its ``crime_propaganda`` covers only part). Privacy is filed under
``crime`` as ALERT does (``crime_privacy``).

Every loader sets ``case.meta["risk"]`` with :func:`risk_for`; the tables below are the whole
mapping, one per benchmark family, keyed by the slug of the benchmark's own category. A category
that is not in its table is a data error (the file changed, or a new upstream version), never a
silent default.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from deepsight_pytest.errors import DataError

RISKS: Mapping[str, str] = MappingProxyType({
    "hate": "Hate speech and discrimination",
    "crime": "Criminal planning (incl. cyber, privacy, fraud, violence)",
    "substance": "Regulated substances",
    "sex": "Sexual content and harassment",
    "self_harm": "Self-harm",
    "weapon": "Weapons (conventional and CBRN)",
    "misinformation": "Misinformation, deception and unqualified advice",
    "over_refusal": "Benign prompts that must be answered (over-refusal)",
    "science_safety": "Scientific hazard knowledge (objective questions)",
    "sandbagging": "Frontier risk: capability held back on request (objective questions)",
})

#: ALERT's 32 micro categories, upstream spelling, grouped in its 6 macro categories.
ALERT_MICRO: Mapping[str, str] = MappingProxyType({
    **{m: "hate" for m in ("hate_women", "hate_ethnic", "hate_lgbtq+", "hate_disabled", "hate_poor",
                           "hate_body", "hate_religion", "hate_other")},
    **{m: "crime" for m in ("crime_injury", "crime_theft", "crime_tax", "crime_propaganda",
                            "crime_kidnapp", "crime_cyber", "crime_privacy", "crime_other")},
    **{m: "substance" for m in ("substance_drug", "substance_cannabis", "substance_tobacco",
                                "substance_alcohol", "substance_other")},
    **{m: "sex" for m in ("sex_harrasment", "sex_porn", "sex_other")},
    **{m: "self_harm" for m in ("self_harm_suicide", "self_harm_thin", "self_harm_other")},
    **{m: "weapon" for m in ("weapon_firearm", "weapon_chemical", "weapon_biological",
                             "weapon_radioactive", "weapon_other")},
})

_CRIME, _HATE, _MIS = "crime", "hate", "misinformation"

#: family -> {category slug -> risk id}. Families whose every case has one risk are not listed.
MAPPINGS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "alert": ALERT_MICRO,
    "typographic-sample": {"crime": "crime", "weapon": "weapon", "self_harm": "self_harm",
                           "benign": "over_refusal"},
    "alert-sample": {"hate": "hate", "crime": "crime", "substance": "substance", "sex": "sex",
                     "self_harm": "self_harm", "weapon": "weapon", "benign": "over_refusal"},
    # XSTest: every safe type is over-refusal; the unsafe contrasts by what they ask for.
    "xstest": {"contrast_homonyms": _CRIME, "contrast_figurative_language": _CRIME,
               "contrast_safe_targets": _CRIME, "contrast_safe_contexts": _CRIME,
               "contrast_definitions": _CRIME, "contrast_discr": _HATE,
               "contrast_historical_events": _HATE, "contrast_privacy": _CRIME},
    "harmbench": {"chemical_biological": "weapon", "cybercrime_intrusion": _CRIME,
                  "illegal": _CRIME, "misinformation_disinformation": _MIS,
                  "harassment_bullying": _HATE, "harmful": _CRIME, "copyright": _CRIME},
    "strongreject": {"disinformation_and_deception": _MIS,
                     "hate_harassment_and_discrimination": _HATE,
                     "illegal_goods_and_services": _CRIME, "non-violent_crimes": _CRIME,
                     "sexual_content": "sex", "violence": _CRIME},
    "donotanswer": {"discrimination_exclusion_toxicity_hateful_offensive": _HATE,
                    "human_chatbot_interaction_harms": "self_harm",
                    "information_hazards": _CRIME, "malicious_uses": _CRIME,
                    "misinformation_harms": _MIS},
    "jbb": {"harassment_discrimination": _HATE, "malware_hacking": _CRIME,
            "physical_harm": _CRIME, "economic_harm": _CRIME, "fraud_deception": _CRIME,
            "disinformation": _MIS, "sexual_adult_content": "sex", "privacy": _CRIME,
            "expert_advice": _MIS, "government_decision-making": _CRIME},
    "orbench": {"deception": _MIS, "harassment": _HATE, "harmful": _CRIME, "hate": _HATE,
                "illegal": _CRIME, "privacy": _CRIME, "self-harm": "self_harm",
                "sexual": "sex", "unethical": _CRIME, "violence": _CRIME},
    # SORRY-Bench 2025/03: 44 categories (short names of its meta_info.py), in 4 domains.
    "sorry-bench": {
        "personal_insult_words": _HATE, "social-group_insult_words": _HATE,
        "threatening_words": _HATE, "lewd_and_obscene_words": "sex", "libelous_words": _MIS,
        "self-harm": "self_harm", "violent_crimes": _CRIME, "harassment": _CRIME,
        "sexual_crimes": "sex", "property_crimes": _CRIME, "public_order_crimes": _CRIME,
        "system_intrusion": _CRIME, "malware": _CRIME, "fraud": _CRIME,
        "financial_crimes": _CRIME, "ip_infringement": _CRIME, "pii_violations": _CRIME,
        "illegal_crafting": _CRIME, "terrorism": _CRIME, "child-related_crimes": _CRIME,
        "animal-related_crimes": _CRIME, "environmental_crimes": _CRIME,
        "evasion_of_law": _CRIME, "human_elimination": _CRIME,
        "advice_on_adult_content": "sex", "sexual_explicit_content": "sex",
        "non-sexual_explicit_content": _CRIME, "fake_news": _MIS, "false_advertising": _MIS,
        "discrimination": _HATE, "military_use": "weapon", "political_belief": _MIS,
        "ethical_belief": _MIS, "religion": _MIS, "social_stereotypes": _HATE,
        "extremist_content": _HATE, "conspiracy_theories": _MIS, "false_common_knowledge": _MIS,
        "unhealthy_behaviors": "self_harm", "medical_advice": _MIS, "financial_advice": _MIS,
        "legal_consulting_advice": _MIS, "governance_decision_advice": _MIS,
        "machinery_operation_advice": _MIS},
    # SALAD-Bench: by the code of its 6 first-level domains (O1..O6).
    "salad-bench": {"o1": _HATE, "o2": _MIS, "o3": _CRIME, "o4": _CRIME, "o5": _CRIME,
                    "o6": _CRIME},
    "beavertails": {"animal_abuse": _CRIME, "child_abuse": _CRIME,
                    "controversial_topics_politics": _MIS,
                    "discrimination_stereotype_injustice": _HATE,
                    "drug_abuse_weapons_banned_substance": "substance",
                    "financial_crime_property_crime_theft": _CRIME,
                    "hate_speech_offensive_language": _HATE,
                    "misinformation_regarding_ethics_laws_and_safety": _MIS,
                    "non_violent_unethical_behavior": _CRIME, "privacy_violation": _CRIME,
                    "self_harm": "self_harm", "sexually_explicit_adult_content": "sex",
                    "terrorism_organized_crime": _CRIME,
                    "violence_aiding_and_abetting_incitement": _CRIME},
    "wildguardtest": {
        "causing_material_harm_by_disseminating_misinformation": _MIS,
        "copyright_violations": _CRIME, "cyberattack": _CRIME,
        "defamation_encouraging_unethical_or_unsafe_actions": _MIS,
        "disseminating_false_or_misleading_information_encouraging_disinformation_campaigns":
            _MIS,
        "fraud_assisting_illegal_activities": _CRIME,
        "mental_health_over-reliance_crisis": "self_harm", "others": _CRIME,
        "private_information_individual": _CRIME,
        "sensitive_information_organization_government": _CRIME, "sexual_content": "sex",
        "social_stereotypes_and_unfair_discrimination": _HATE,
        "toxic_language_hate_speech": _HATE, "violence_and_physical_harm": _CRIME},
    "figstep": {"illegal_activity": _CRIME, "hate_speech": _HATE, "malware_generation": _CRIME,
                "physical_harm": _CRIME, "fraud": _CRIME, "adult_content": "sex",
                "privacy_violation": _CRIME, "legal_opinion": _MIS, "financial_advice": _MIS,
                "health_consultation": _MIS},
})

#: Families whose every case carries one risk (no categories, or all benign / all science).
UNIFORM: Mapping[str, str] = MappingProxyType({
    "advbench": "crime",  # AdvBench has no categories; crime is its dominant theme
    "safesci": "science_safety",
    "sandbagging": "sandbagging",
    "mask": "misinformation",  # lying under pressure: deception
    "deception": "misinformation",  # acting against its own stated view
    "fake-alignment": "misinformation",  # values that hold only when the safe answer is offered
    "behonest": "misinformation",  # bluffing about what it knows
    "benign": "over_refusal",
})


def risk_for(family: str, category: str, where: str = "") -> str:
    """The taxonomy id of ``category`` in benchmark ``family``; a DataError naming ``where``
    when the category is not in the family's table."""
    if family in UNIFORM:
        return UNIFORM[family]
    table = MAPPINGS[family]
    try:
        return table[category]
    except KeyError:
        prefix = f"{where}: " if where else ""
        raise DataError(f"{prefix}unknown {family} category {category!r}; known: "
                        f"{', '.join(sorted(table))}") from None


def label(risk: str) -> str:
    """The human-readable name of a taxonomy id (for report tables)."""
    return RISKS[risk]
