"""Uploads to GCS, their checks after upload, thumbnails, and the deletion of media objects
nothing references any more."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.media.cleanup import on_media_released
    from shared.media.release import release as release_media
    from shared.media.service import (
        create_upload,
        get_upload,
        make_video_thumbnail,
        on_object_finalized,
        on_storage_event,
    )
    from shared.media.sweep import sweep_unattached
    from shared.media.system_uploads import register_system_video

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "create_upload",
    "get_upload",
    "make_video_thumbnail",
    "on_media_released",
    "on_object_finalized",
    "on_storage_event",
    "register_system_video",
    "release_media",
    "sweep_unattached",
]
