"""The emulator's own S3: an embedded SeaweedFS server and a relay that lets containers reach it."""
