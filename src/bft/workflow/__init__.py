"""Domain logic of the customization workflow, one module per step.

Each Lambda handler in ``lambda/<step>/handler.py`` parses its event, calls one
function here with the clients it needs, and returns the result. The same
functions back the CLI, so a step behaves the same in AWS, in tests and offline.
"""
