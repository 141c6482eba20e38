"""The command line: quick help with a description for every option."""


def test_cli_help_is_quick_to_load_and_says_what_each_option_does():
    """--help must not import torch (it took seconds); every option has a description."""
    import subprocess
    import sys

    code = (
        "import sys; from saewidgets.__main__ import main\n"
        "try:\n    main(['lab', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("NO-TORCH")
    for option in ("--port", "--ip", "--no-browser", "--notebook"):
        assert option in out.stdout
    assert "default: notebooks/quickstart.ipynb" in out.stdout
