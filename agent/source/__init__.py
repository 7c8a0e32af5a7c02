"""Reading a repository's Python source: which files are source and which are tests, module names
and paths, and the imports between them. Below everything that asks which code a test is about
(the context, the test-to-code mapping, the judge), so each reads files the same way."""
