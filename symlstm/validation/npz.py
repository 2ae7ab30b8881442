"""Reading NumPy .npz files robustly: :func:`load_npz` and the checks of the archive and
of each member's header before anything is decompressed."""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np

from symlstm.errors import DataFileError
from symlstm.limits import MAX_NPZ_MEMBER_BYTES, MAX_NPZ_MEMBERS, MAX_NPZ_TOTAL_BYTES


def load_npz(path: str | Path, what: str = "arrays") -> dict[str, np.ndarray]:
    """Read a NumPy .npz file of real-valued arrays, robustly.

    Every member is checked before it is decompressed: its uncompressed size from the
    zip directory, then its ``.npy`` header (a real numeric dtype, no objects, so nothing
    is unpickled; a shape whose bytes are exactly what the member holds). The sizes are
    bounded by :data:`~symlstm.limits.MAX_NPZ_MEMBER_BYTES` per array and
    :data:`~symlstm.limits.MAX_NPZ_TOTAL_BYTES` in all, so a corrupted or hostile file
    (a few megabytes that claim gigabytes of zeros) is a
    :class:`~symlstm.errors.DataFileError` naming the problem, never a crash or a huge
    allocation.

    Parameters
    ----------
    path
        The .npz file.
    what
        What the arrays are (``"weights"``, ``"inputs"`` …), first in every message.

    Returns
    -------
    dict of str to numpy.ndarray
        Each member's array, in native byte order.

    Raises
    ------
    DataFileError
        If the file is missing, not a zip of ``.npy`` members, over the limits, or holds
        a member that is not a real-valued array or whose header and size disagree.

    >>> import io, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> np.savez(path, kernel=np.eye(2, dtype=np.float32))
    >>> load_npz(path)["kernel"].dtype
    dtype('float32')
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"not a zip file")
    >>> load_npz(path, "weights")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symlstm.errors.DataFileError: weights: .../w.npz is not a readable .npz file (File is not ...)
    """
    if not isinstance(what, str):
        raise DataFileError(f"load_npz: what must be text, not {type(what).__name__}")
    if not isinstance(path, str | os.PathLike) or isinstance(path, bytes):
        raise DataFileError(f"{what}: expected the path of an .npz file, not {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{what}: {path} does not exist or is not a file")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = _npz_members(archive, f"{what}: {path}")
            out: dict[str, np.ndarray] = {}
            for info in infos:
                used = sum(a.nbytes for a in out.values())
                out[info.filename[:-4]] = _read_member(
                    archive, info, f"{what}: {path}: {info.filename[:-4]}", used
                )
    except DataFileError:
        raise
    except Exception as exc:  # a corrupted file can fail anywhere in zipfile or the header
        reason = str(exc) or type(exc).__name__
        raise DataFileError(f"{what}: {path} is not a readable .npz file ({reason})") from None
    return out


#: Room for an .npy header on top of its array's bytes (numpy's own header limit is 10000).
_NPY_HEADER_ROOM = 2**16
#: Bytes read from a member at a time, into the array itself.
_READ_CHUNK = 2**22


def _npz_members(archive: zipfile.ZipFile, where: str) -> list[zipfile.ZipInfo]:
    """The members, checked on the zip directory alone: names, count and declared sizes."""
    infos = archive.infolist()
    if len(infos) > MAX_NPZ_MEMBERS:
        raise DataFileError(
            f"{where}: {len(infos)} members; at most {MAX_NPZ_MEMBERS} "
            "(MAX_NPZ_MEMBERS in symlstm.limits)"
        )
    names: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        if not name.endswith(".npy") or name[:-4] in names:
            raise DataFileError(f"{where}: member {name!r} is not an array or repeats one")
        names.add(name[:-4])
        if info.file_size > MAX_NPZ_MEMBER_BYTES + _NPY_HEADER_ROOM:
            raise DataFileError(
                f"{where}: member {name!r} is {info.file_size:,} bytes uncompressed; at most "
                f"{MAX_NPZ_MEMBER_BYTES:,} (MAX_NPZ_MEMBER_BYTES in symlstm.limits)"
            )
        total += info.file_size
    if total > MAX_NPZ_TOTAL_BYTES + _NPY_HEADER_ROOM * len(infos):
        raise DataFileError(
            f"{where}: {total:,} bytes uncompressed in all; at most {MAX_NPZ_TOTAL_BYTES:,} "
            "(MAX_NPZ_TOTAL_BYTES in symlstm.limits)"
        )
    return infos


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, used: int = 0
) -> np.ndarray:
    """One member's array, its header checked before anything is allocated; ``used``: the
    bytes of the arrays read before it, which count against the total."""
    fmt = np.lib.format
    with archive.open(info) as member:
        major, _ = fmt.read_magic(member)
        if major not in (1, 2, 3):
            raise DataFileError(f"{where}: unknown .npy format version {major}")
        read_header = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(member)
        if dtype.kind not in "fiu" or dtype.hasobject or dtype.itemsize == 0:
            raise DataFileError(f"{where}: dtype {dtype} is not a real number type")
        if any(n < 0 for n in shape):
            raise DataFileError(f"{where}: the header's shape {shape} has a negative length")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > MAX_NPZ_MEMBER_BYTES:
            raise DataFileError(
                f"{where}: the header claims shape {shape} ({nbytes:,} bytes); at most "
                f"{MAX_NPZ_MEMBER_BYTES:,} (MAX_NPZ_MEMBER_BYTES in symlstm.limits)"
            )
        if used + nbytes > MAX_NPZ_TOTAL_BYTES:
            raise DataFileError(
                f"{where}: {used + nbytes:,} bytes uncompressed in all with this array; at "
                f"most {MAX_NPZ_TOTAL_BYTES:,} (MAX_NPZ_TOTAL_BYTES in symlstm.limits)"
            )
        if member.tell() + nbytes != info.file_size:
            raise DataFileError(
                f"{where}: the header claims shape {shape} ({nbytes:,} bytes) but the member "
                f"holds {info.file_size - member.tell():,} bytes"
            )
        flat = np.empty(count, dtype=dtype)
        buffer = memoryview(flat).cast("B")
        done = 0
        while done < nbytes:
            n = member.readinto(buffer[done : done + _READ_CHUNK])
            if not n:
                raise DataFileError(f"{where}: truncated: {done:,} of {nbytes:,} bytes")
            done += n
        member.read(1)  # at the end: zipfile checks the member's CRC
    array = flat.reshape(shape, order="F" if fortran else "C")
    return array.astype(dtype.newbyteorder("="), copy=False)  # native byte order
