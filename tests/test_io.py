import numpy as np
import pydicom
import pytest
import tifffile
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from bonelib.io import ScanError, load_scan


@pytest.fixture
def stack():
    return np.arange(3 * 5 * 7, dtype=np.int16).reshape(3, 5, 7) - 40


def write_dicom(path, pixels, position, slope=0.5, intercept=-300.0, spacing=0.082):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.Modality = "CT"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelSpacing = [spacing, spacing]
    ds.SliceThickness = spacing
    ds.ImagePositionPatient = [0.0, 0.0, position]
    ds.InstanceNumber = int(position / spacing)
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.PixelData = pixels.astype(np.int16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_numpy_files(tmp_path, stack):
    np.save(tmp_path / "a.npy", stack)
    image, voxel = load_scan(tmp_path / "a.npy")
    np.testing.assert_array_equal(image, stack)
    assert voxel is None
    np.savez(tmp_path / "b.npz", volume=stack, voxel_size_mm=0.082)
    image, voxel = load_scan(tmp_path / "b.npz")
    np.testing.assert_array_equal(image, stack)
    assert voxel == pytest.approx(0.082)


def test_multipage_tiff_with_resolution(tmp_path, stack):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack, photometric="minisblack", resolution=(1 / 0.082, 1 / 0.082), resolutionunit="CENTIMETER")
    image, voxel = load_scan(path)
    np.testing.assert_array_equal(image, stack)
    assert voxel == pytest.approx(0.82)  # 0.082 cm


def test_tiff_folder_in_natural_order(tmp_path, stack):
    for index in range(3):
        tifffile.imwrite(tmp_path / f"slice{index * 5}.tif", stack[index])  # slice0, slice5, slice10
    image, _ = load_scan(tmp_path)
    np.testing.assert_array_equal(image, stack)


def test_dicom_series_sorted_and_rescaled(tmp_path, stack):
    for index in (2, 0, 1):  # written out of order, named so that names sort wrongly
        write_dicom(tmp_path / f"img{2 - index}.dcm", stack[index], position=index * 0.082)
    image, voxel = load_scan(tmp_path)
    np.testing.assert_allclose(image, 0.5 * stack - 300.0)
    assert voxel == pytest.approx(0.082)


def test_errors_name_the_file_and_write_nothing(tmp_path, stack):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        load_scan(tmp_path / "nothing-here.tif")
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a tiff at all")
    with pytest.raises(ScanError, match="broken.tif"):
        load_scan(broken)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ScanError, match="empty"):
        load_scan(empty)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    tifffile.imwrite(mixed / "s1.tif", stack[0])
    tifffile.imwrite(mixed / "s2.tif", stack[0, :4])
    with pytest.raises(ScanError, match="s2.tif"):
        load_scan(mixed)
    np.save(tmp_path / "zero.npy", np.zeros((0, 4)))
    with pytest.raises(ScanError, match="zero.npy.*empty"):
        load_scan(tmp_path / "zero.npy")
    np.save(tmp_path / "four.npy", np.zeros((2, 2, 2, 2)))
    with pytest.raises(ScanError, match="four.npy"):
        load_scan(tmp_path / "four.npy")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ScanError, match="unknown format"):
        load_scan(tmp_path / "notes.txt")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ScanError):
        load_scan(mixed)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_nrrd_slices_first_with_the_header_spacing(tmp_path, stack):
    import nrrd

    stored = np.ascontiguousarray(stack.T)  # NRRD's volume[x, y, z]: the slices are [:, :, k]
    nrrd.write(str(tmp_path / "a.nrrd"), stored, {"spacings": [0.05, 0.05, 0.06]})
    image, voxel = load_scan(tmp_path / "a.nrrd")
    np.testing.assert_array_equal(image, stack)
    assert voxel == pytest.approx(0.05)
    nrrd.write(str(tmp_path / "b.nrrd"), stored, {"space directions": np.diag([0.082, 0.082, 0.082])})
    assert load_scan(tmp_path / "b.nrrd")[1] == pytest.approx(0.082)
    nrrd.write(str(tmp_path / "bare.nrrd"), stored)
    assert load_scan(tmp_path / "bare.nrrd")[1] is None  # no spacing recorded: the caller decides
    nrrd.write(str(tmp_path / "bad.nrrd"), stored, {"spacings": [0.05, -0.05, 0.05]})
    with pytest.raises(ScanError, match="bad.nrrd.*spacing"):
        load_scan(tmp_path / "bad.nrrd")
    (tmp_path / "broken.nrrd").write_bytes(b"NRRD0004\ntype: nonsense\n\n")
    with pytest.raises(ScanError, match="broken.nrrd"):
        load_scan(tmp_path / "broken.nrrd")


def test_nifti_slices_first_with_the_voxel_size_in_mm(tmp_path, stack):
    import nibabel

    image = nibabel.Nifti1Image(np.ascontiguousarray(stack.T), affine=np.diag([0.041, 0.041, 0.041, 1.0]))
    image.header.set_xyzt_units("mm")
    nibabel.save(image, tmp_path / "a.nii.gz")
    loaded, voxel = load_scan(tmp_path / "a.nii.gz")
    np.testing.assert_array_equal(loaded, stack)
    assert voxel == pytest.approx(0.041)
    image.header.set_xyzt_units("micron")
    image.header.set_zooms((41.0, 41.0, 41.0))
    nibabel.save(image, tmp_path / "um.nii")
    assert load_scan(tmp_path / "um.nii")[1] == pytest.approx(0.041)
    image.header.set_xyzt_units("unknown")
    nibabel.save(image, tmp_path / "nounit.nii")
    with pytest.raises(ScanError, match="nounit.nii.*unit"):
        load_scan(tmp_path / "nounit.nii")
    (tmp_path / "broken.nii").write_bytes(b"\0" * 100)
    with pytest.raises(ScanError, match="broken.nii"):
        load_scan(tmp_path / "broken.nii")


@pytest.mark.parametrize("suffix", [".aim", ".isq"])
def test_scanco_files_with_their_voxel_size(tmp_path, stack, suffix):
    itk = pytest.importorskip("itk")
    image = itk.image_from_array(stack)
    image.SetSpacing([0.061, 0.061, 0.061])
    header = image.GetMetaDataDictionary()
    for key in ("CreationDate", "ModificationDate"):  # the ISQ writer needs dates
        header[key] = "2026-NOV-26 12:00:00.000"
    itk.imwrite(image, str(tmp_path / f"scan{suffix}"))
    loaded, voxel = load_scan(tmp_path / f"scan{suffix}")
    np.testing.assert_allclose(loaded, stack)
    assert voxel == pytest.approx(0.061)
    (tmp_path / f"broken{suffix}").write_bytes(b"not a scanco file" * 10)
    with pytest.raises(ScanError, match=f"broken{suffix}"):
        load_scan(tmp_path / f"broken{suffix}")
