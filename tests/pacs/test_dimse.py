"""DIMSE round trip with a real Orthanc: C-STORE, C-FIND, C-MOVE back to netlm (pynetdicom).

The bundled CT is stored by ``netlm pacs push --dimse`` (C-STORE), found by
patient and by study (C-FIND), and retrieved by ``netlm pacs pull --dimse``:
Orthanc sends it by C-MOVE to netlm's own Storage SCP (netlm is registered in
Orthanc as AE ``NETLM`` on a free port).  The pulled images must equal the
pushed ones voxel for voxel; the response SR of ``test_response_sr`` travels
the same way.  Errors name the peer; DICOMweb-only options are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import yaml

from netlm.cli import main
from netlm.errors import InputError
from netlm.imaging.io import read_image
from netlm.pacs import PacsError
from netlm.pacs.dimse import DimseConfig, find_series, find_studies

from .conftest import DimseOrthanc
from .test_response_sr import DOCUMENT, PATIENT, _ct


def _dimse(orthanc: DimseOrthanc) -> list[str]:
    return ["--dimse", f"127.0.0.1:{orthanc.port}", "--called-aet", orthanc.called_aet]


def test_store_find_and_move_round_trip(
    orthanc_dimse: DimseOrthanc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ct = _ct(tmp_path / "ct")
    response = tmp_path / "response.yaml"
    response.write_text(yaml.safe_dump(DOCUMENT, sort_keys=False))
    sr = tmp_path / "response-sr.dcm"
    assert main(["response", str(response), "--sr", str(sr), "--sr-images", str(ct)]) == 0
    capsys.readouterr()
    n_ct = len(list(ct.iterdir()))
    assert main(["pacs", "push", *_dimse(orthanc_dimse), str(ct), str(sr)]) == 0
    assert f"stored {n_ct + 1} instances" in capsys.readouterr().out

    assert (
        main(["pacs", "find", *_dimse(orthanc_dimse), "--patient-id", PATIENT, "-f", "json"]) == 0
    )
    studies = json.loads(capsys.readouterr().out)
    study = str(pydicom.dcmread(next(ct.iterdir()), stop_before_pixels=True).StudyInstanceUID)
    assert [s["study_uid"] for s in studies] == [study]
    assert studies[0]["accession_number"] == "ACC-RESP-1"
    config = DimseConfig("127.0.0.1", orthanc_dimse.port, orthanc_dimse.called_aet)
    series = {s.modality: s for s in find_series(config, study)}
    assert set(series) == {"CT", "SR"} and series["CT"].number_of_instances == n_ct

    out = tmp_path / "pulled"
    args = ["pacs", "pull", *_dimse(orthanc_dimse), "--study", study, "--out", str(out)]
    assert main([*args, "--move-port", str(orthanc_dimse.move_port)]) == 0
    pulled_ct = out / series["CT"].series_uid
    assert len(list(pulled_ct.iterdir())) == n_ct
    back, original = read_image(pulled_ct), read_image(ct)
    assert back.same_grid(original)
    np.testing.assert_array_equal(back.array, original.array)
    pulled_sr = pydicom.dcmread(next((out / series["SR"].series_uid).iterdir()))
    assert pulled_sr.SOPInstanceUID == pydicom.dcmread(sr).SOPInstanceUID


def test_dimse_errors_name_the_peer_and_the_option(
    orthanc_dimse: DimseOrthanc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nobody listens on the move port: no association, named.
    wrong = DimseConfig("127.0.0.1", orthanc_dimse.move_port, "NOBODY", timeout_s=5)
    with pytest.raises(PacsError, match=f"NOBODY@127.0.0.1:{orthanc_dimse.move_port}"):
        find_studies(wrong, patient_id=PATIENT)
    with pytest.raises(InputError) as info:
        DimseConfig("127.0.0.1", 104, "A" * 17)
    assert info.value.problems[0][0] == "called_aet"
    capsys.readouterr()
    assert main(["pacs", "find", "--dimse", "127.0.0.1:104", "--patient-id", "X"]) == 2
    assert "--called-aet" in capsys.readouterr().err
    args = ["pacs", "pull", *_dimse(orthanc_dimse), "--study", "1.2.3", "--out", str(tmp_path)]
    assert main([*args, "--token", "t"]) == 2
    assert "DIMSE takes no token" in capsys.readouterr().err
    assert main(["pacs", "find", "--patient-id", "X"]) == 2
    assert "--url (DICOMweb) or --dimse" in capsys.readouterr().err
