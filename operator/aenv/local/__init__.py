"""The local environment: a real control plane (kwok nodes) and the AWS emulator, for dev and tests."""
