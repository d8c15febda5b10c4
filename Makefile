# The two commands of README.md.
.PHONY: up test setup

up:          ## set up this machine (idempotent) and run the whole cloud in the foreground
	@scripts/setup
	.venv/bin/pocketstack up $(ARGS)

test:        ## set up, then lint, type-check and run the test suite (as CI does)
	@scripts/test $(ARGS)

setup:
	@scripts/setup
