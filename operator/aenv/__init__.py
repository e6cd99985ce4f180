"""aenv: one AnalyticsEnvironment resource, a whole real-time analytics stack."""
