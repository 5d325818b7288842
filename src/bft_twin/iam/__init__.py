"""Offline authorization: AWS policy evaluation for every call the offline world makes."""
