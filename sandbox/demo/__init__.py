"""The demo: sample requests and staff replies run through the real daemon on the sandbox."""
