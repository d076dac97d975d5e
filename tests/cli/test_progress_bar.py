from cli.progress_bar import progress_bar


def test_progress_bar_shows_label_message_and_eta_on_stderr(capsys):
    with progress_bar(10, "measure") as bar:
        bar.advance("first", work=4)
        bar.advance("last", work=6)
    captured = capsys.readouterr()
    assert captured.out == ""
    final = captured.err.rstrip("\n").split("\r")[-1]
    assert final.startswith("measure 100%|") and "last" in final
    assert "elapsed 00:00, ETA 00:00" in final


def test_progress_bar_is_closed_on_an_exception(capsys):
    try:
        with progress_bar(3, "train") as bar:
            bar.advance("step 1/3")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert bar.disable  # tqdm's mark of a closed bar
    assert capsys.readouterr().err.endswith("\n")
