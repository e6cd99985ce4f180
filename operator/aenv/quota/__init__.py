"""Quotas at admission: the ValidatingAdmissionPolicy that checks environments against their namespace's
AnalyticsEnvironmentQuota."""
