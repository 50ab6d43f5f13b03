"""What a screen may show of a resident: ID numbers and phones masked (sync/privacy.py)."""

from sync.privacy import mask_id, mask_phone

__all__ = ["mask_id", "mask_phone"]
