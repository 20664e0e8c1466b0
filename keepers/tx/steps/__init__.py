"""The transaction pipeline's steps, one module per pair (keepers.tx.pipeline runs them):
batch (the state they share), build (Build, Audit), sign (Sign, Validate), broadcast, confirm
(Watch, Confirm)."""
