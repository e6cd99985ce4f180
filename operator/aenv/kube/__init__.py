"""The Kubernetes objects aenv owns: the connection Secret (and, later, workloads and traffic objects)."""
