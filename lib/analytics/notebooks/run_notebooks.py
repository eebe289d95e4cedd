#!/usr/bin/python3
"""Executes the project's notebooks headless with the zsd (tslab) kernel: `npm run notebooks`.

Runs on Debian's /usr/bin/python3 (python3-nbclient, jupyter-client), not a pyenv python. Each notebook gets a
fresh kernel that starts in the repository root (notebooks/.jupyter/kernels/zsd/launch.sh), runs its cells in
order, and is written executed and signed as trusted to <out>/<name>.ipynb, outside git. The committed notebooks
are never modified, except by --clear, which strips their outputs.

On a failing cell it prints the notebook, the cell's index and source, its stderr (where tslab writes compile
and runtime diagnostics) and the error, and exits 1. Exit 2: bad arguments or Jupyter is not installed.
"""

import argparse
import os
import sys
import time

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
KERNELS_DIR = os.path.join(REPO_ROOT, 'notebooks', '.jupyter')
APT_PACKAGES = 'jupyter-nbconvert python3-nbclient python3-ipykernel jupyter-client jupyter-notebook'


def fail(message, code=2):
    sys.stderr.write(f'run_notebooks: error: {message}\n')
    sys.exit(code)


try:
    import nbformat
    from nbformat.sign import NotebookNotary
except ImportError as error:
    fail(f'{error} under {sys.executable}: install Jupyter with `apt-get install -y --no-install-recommends {APT_PACKAGES}` '
         '(Debian packages for /usr/bin/python3; `npm run test:prepare` does it)')


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog='npm run notebooks --',
        description='Execute notebooks/*.ipynb headless with the zsd kernel; write executed, trusted copies outside git.')
    parser.add_argument('names', nargs='*', metavar='NAME',
                        help='notebooks to run: file name, stem or unique prefix (e.g. 03); default all; always in name order')
    parser.add_argument('--dir', default=os.path.join(REPO_ROOT, 'notebooks'), help='notebook directory (default: notebooks/)')
    parser.add_argument('--out', default=os.path.join(REPO_ROOT, 'analytics', 'notebooks'),
                        help='directory for the executed copies (default: analytics/notebooks/)')
    parser.add_argument('--timeout', type=int, default=900, help='seconds one cell may run (default: 900)')
    parser.add_argument('--startup-timeout', type=int, default=120, help='seconds the kernel may take to start (default: 120)')
    parser.add_argument('--kernel', default='zsd', help='kernel name (default: zsd, from notebooks/.jupyter/kernels)')
    parser.add_argument('--clear', action='store_true',
                        help='do not execute: strip outputs, execution counts and timing metadata from the notebooks in place')
    return parser.parse_args(argv)


def select_notebooks(directory, names):
    if not os.path.isdir(directory):
        fail(f'notebook directory {directory} does not exist')
    available = sorted(name for name in os.listdir(directory) if name.endswith('.ipynb') and not name.startswith('.'))
    if not names:
        return available
    selected = []
    for name in names:
        stem = name[:-len('.ipynb')] if name.endswith('.ipynb') else name
        exact = [candidate for candidate in available if candidate[:-len('.ipynb')] == stem]
        matches = exact or [candidate for candidate in available if candidate.startswith(stem)]
        if len(matches) != 1:
            problem = 'matches no notebook' if not matches else f'matches {len(matches)} notebooks ({", ".join(matches)})'
            fail(f'"{name}" {problem} in {directory}; available: {", ".join(available) or "none"}')
        if matches[0] not in selected:
            selected.append(matches[0])
    return sorted(selected)  # notebook order, whatever the order of the names


def read_notebook(file):
    try:
        return nbformat.read(file, as_version=4)
    except Exception as error:  # nbformat raises JSON, validation and version errors of several classes
        fail(f'{file}: not a readable notebook: {error}', 1)


def clear_notebook(notebook):
    """Strips what executing leaves in a notebook; returns whether anything changed."""
    changed = False
    for cell in notebook.cells:
        if cell.cell_type != 'code':
            continue
        if cell.get('outputs'):
            cell.outputs = []
            changed = True
        if cell.get('execution_count') is not None:
            cell.execution_count = None
            changed = True
        for key in ('execution', 'collapsed', 'scrolled'):
            if key in cell.metadata:
                del cell.metadata[key]
                changed = True
    return changed


def write_atomic(notebook, file):
    os.makedirs(os.path.dirname(file), exist_ok=True)
    temporary = f'{file}.{os.getpid()}.tmp'
    with open(temporary, 'w', encoding='utf-8') as handle:
        nbformat.write(notebook, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, file)


def cell_report(cell, index, name, error):
    """What a failing cell tells: its source, stdout and stderr (tslab's diagnostics) and the error."""
    lines = [f'notebook {name} failed at cell {index + 1} (index {index}):', '--- cell source ---', cell.source.rstrip()]
    streams = {'stdout': '', 'stderr': ''}
    errors = []
    for output in cell.get('outputs', []):
        if output.output_type == 'stream':
            streams[output.name] = streams.get(output.name, '') + output.text
        elif output.output_type == 'error':
            errors.append('\n'.join(output.get('traceback') or [f'{output.ename}: {output.evalue}']))
    for stream in ('stdout', 'stderr'):
        if streams[stream].strip():
            lines += [f'--- cell {stream} ---', streams[stream].rstrip()]
    if errors:
        lines += ['--- cell error ---', *errors]
    elif getattr(error, 'ename', None):
        # nbclient's own message repeats the source; tslab's reply names only the class (the details are in stderr).
        lines += ['--- error ---', f'{error.ename}: {error.evalue}'.rstrip(': ')]
    elif error is not None:
        lines += ['--- error ---', str(error).strip()]
    return '\n'.join(lines)


def execute_notebook(source_file, out_file, options):
    # Imported here so that --clear and the argument checks work without a kernel's dependencies.
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = read_notebook(source_file)
    clear_notebook(notebook)
    current = {'index': None}

    def on_cell_start(cell, cell_index):
        current['index'] = cell_index

    client = NotebookClient(
        notebook,
        kernel_name=options.kernel,
        timeout=options.timeout,
        startup_timeout=options.startup_timeout,
        # tslab starts in the repository root anyway (launch.sh); the notebook's own directory is the fallback.
        resources={'metadata': {'path': os.path.dirname(source_file)}},
        on_cell_start=on_cell_start,
    )
    failure = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        failure = error
    except Exception as error:  # kernel start failures: no such kernel, launch.sh not executable, tslab missing
        if current['index'] is None:
            return f'could not start the "{options.kernel}" kernel for {os.path.basename(source_file)}: {type(error).__name__}: {error}'
        failure = error
    NotebookNotary().sign(notebook)
    write_atomic(notebook, out_file)
    if failure is None:
        return None
    index = current['index']
    kind = 'timed out' if isinstance(failure, CellTimeoutError) else 'kernel died' if isinstance(failure, DeadKernelError) else None
    report = cell_report(notebook.cells[index], index, os.path.basename(source_file), failure)
    if kind:
        report += f'\n({kind}; per-cell timeout {options.timeout} s)'
    return report + f'\n(the partly executed copy is {out_file})'


def shown_path(file):
    relative = os.path.relpath(file)
    return file if relative.startswith('..') else relative


def main(argv):
    options = parse_arguments(argv)
    directory = os.path.abspath(options.dir)
    names = select_notebooks(directory, options.names)
    if options.clear:
        for name in names:
            file = os.path.join(directory, name)
            notebook = read_notebook(file)
            if clear_notebook(notebook):
                write_atomic(notebook, file)
                print(f'cleared {name}')
            else:
                print(f'{name} is clean')
        return 0
    if not names:
        print(f'no notebooks in {directory}')
        return 0
    # The kernelspec kept in the repo; the user's own kernels stay visible after it.
    os.environ['JUPYTER_PATH'] = os.pathsep.join(filter(None, [KERNELS_DIR, os.environ.get('JUPYTER_PATH')]))
    out_directory = os.path.abspath(options.out)
    started = time.monotonic()
    for number, name in enumerate(names, start=1):
        print(f'[{number}/{len(names)}] {name} ...', flush=True)
        notebook_started = time.monotonic()
        failure = execute_notebook(os.path.join(directory, name), os.path.join(out_directory, name), options)
        seconds = time.monotonic() - notebook_started
        if failure is not None:
            sys.stderr.write(f'{failure}\n')
            print(f'[{number}/{len(names)}] {name} FAILED after {seconds:.1f} s', flush=True)
            return 1
        print(f'[{number}/{len(names)}] {name} ok in {seconds:.1f} s -> {shown_path(os.path.join(out_directory, name))}', flush=True)
    print(f'{len(names)} notebook(s) ok in {time.monotonic() - started:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
