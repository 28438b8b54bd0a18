"""Retention and destruction with proof.

- ``models``: the per-portal policy, admin-added classes, legal holds, runs,
  each lead's state in a run, archives and their keys, notices, acts.
- ``policy``: which clock a lead runs on (unconverted 6–12 months since the
  last contact; withdrawn consent 30 days; admin classes by status/source;
  medical records never destroyed, only flagged) and legal holds.
- ``run``: the daily run — plan, archive, delete and confirm in batches,
  destroy archives after the grace — and the dry run.
- ``archive``: per-archive keys, restore, crypto-shredding.
- ``act``: the destruction act (DOCX) and journal extract (CSV) that
  Roskomnadzor order No. 179 asks for.
- ``tasks``: the daily plan, chunked steps, resume, three-year act purge.
- ``views``: the settings page's calls and the lead tab's hold.

A lead counts as a *medical record* when the policy's boolean user field
(``UF_CRM_PDN_MEDICAL`` by default) is set, or its SOURCE_ID or STATUS_ID is
in the policy's medical lists. Such leads are never deleted automatically:
the run raises a "medical" notice so the clinic keeps the record in its own
medical information system (cards are kept 25 years) and removes the CRM copy
by hand.
"""
