"""Offline execution: the Bedrock fake and the runner for the synthesized state machine."""
