#!/usr/bin/env node
// Validates Amazon States Language definitions with asl-validator (pinned in package.json).
// Input (stdin): a JSON object {name: definition, ...}. Output (stdout): a JSON object
// {name: {"valid": bool, "errors": ["<code>: <message>", ...]}, ...}. Exit 0 unless the input is bad.
"use strict";
const fs = require("fs");
const validator = require("asl-validator");

const definitions = JSON.parse(fs.readFileSync(0, "utf8"));
const results = {};
for (const [name, definition] of Object.entries(definitions)) {
  // checkArn: every Task Resource must look like an ARN; checkPaths: every JSONPath must parse.
  const result = validator(definition, { checkArn: true, checkPaths: true });
  results[name] = {
    valid: result.isValid,
    errors: result.errors.map((e) => `${e["Error code"]}: ${e.Message}`),
  };
}
process.stdout.write(JSON.stringify(results));
