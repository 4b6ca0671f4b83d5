from emulator.coverage import DOC, render


def test_operations_doc_is_current():
    assert DOC.read_text() == render(), "run: python -m emulator.coverage --write"
