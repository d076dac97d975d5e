"""The main window: canvas in the middle, Train / Generate panels beside it, results below."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.results import BUNDLED_DIR
from app.state import AppState
from app.viewmodels.jobs import JobKind
from app.widgets.canvas import ImageCanvas
from app.widgets.edit_panel import EditPanel
from app.widgets.engine_menu import EngineMenu
from app.widgets.file_dialogs import FileDialogs
from app.widgets.fill_views import ExtendView, MaskCanvas
from app.widgets.filters import IMAGE_FILTER, MODEL_FILTER
from app.widgets.generate_panel import GeneratePanel
from app.widgets.object_canvas import ObjectCanvas
from app.widgets.recent_files import RecentFiles
from app.widgets.region_canvas import RegionCanvas
from app.widgets.repeat_preview import RepeatPreview
from app.widgets.results_strip import ResultsStrip
from app.widgets.train_panel import TrainPanel


class MainWindow(QMainWindow):
    def __init__(self, state: AppState, devices: list[str], settings: QSettings | None = None):
        super().__init__()
        self.state = state
        self.settings = settings or QSettings()
        self._close_when_idle = False
        self._opening: str | None = None
        """A model file the user asked to open, until it arrives (it is read in the worker)."""
        self._trained = False
        """A training ran since the last idle (its end moves on to the Generate tab)."""
        self._restore_state_settings()  # before the panels, which show the state's settings
        self.setWindowTitle("SinDDM Studio")
        self.setAcceptDrops(True)
        self.canvas = ImageCanvas()
        self.train_panel = TrainPanel(state, devices)
        self.generate_panel = GeneratePanel(state)
        self.results = ResultsStrip(state)
        self.regions = RegionCanvas()
        self.objects = ObjectCanvas()
        self.masks = MaskCanvas()
        self.extend_view = ExtendView()
        self.edit_panel = EditPanel(
            state, self.regions, self.objects, masks=self.masks, extend_view=self.extend_view
        )
        self.repeat = RepeatPreview(state, self.canvas, self)
        self.files = FileDialogs(self, state, self.settings, self.results)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.train_panel, "Train")
        self.tabs.addTab(self.generate_panel, "Generate")
        self.tabs.addTab(self.edit_panel, "Edit")
        self.centre_stack = QStackedWidget()
        for view in (self.canvas, self.regions, self.objects, self.masks, self.extend_view):
            self.centre_stack.addWidget(view)
        self.progress = QProgressBar(textVisible=False)
        self.progress.setMaximumWidth(220)
        self.progress_text = QLabel()
        self.progress_text.setMinimumWidth(320)
        self.engine_status = QLabel()
        """Which engine Generate uses, always in the status bar."""
        self._build_layout()
        self._build_menus()
        self._connect()
        self._restore_settings()
        self._on_job_changed("")

    # ---------------------------------------------------------------------------- layout

    def _build_layout(self) -> None:
        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.centre_stack, 1)
        column.addWidget(self.results)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.tabs.setMinimumWidth(300)
        splitter.addWidget(self.tabs)
        splitter.addWidget(centre)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([330, 870])
        self.setCentralWidget(splitter)
        status = self.statusBar()
        status.addPermanentWidget(self.engine_status)
        status.addPermanentWidget(self.progress_text)
        status.addPermanentWidget(self.progress)

    def _action(self, menu, text: str, slot, shortcut=None, checked: bool | None = None) -> QAction:
        """A menu entry; with `checked` (its first state) a checkable one whose state goes to
        `slot`."""
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if checked is None:
            action.triggered.connect(slot)
        else:
            action.setCheckable(True)
            action.setChecked(checked)
            action.toggled.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "Open Image…", self.open_image_dialog, QKeySequence.StandardKey.Open)
        self._action(file, "Open Model…", self.open_model_dialog, "Ctrl+Shift+O")
        self.recent_menu = file.addMenu("Open Recent")
        file.addSeparator()
        self.save_action = self._action(
            file, "Save Model As…", self.files.save_model, QKeySequence.StandardKey.Save
        )
        self.export_action = self._action(
            file, "Export Image…", self.files.export_selected, "Ctrl+E"
        )
        self.export_all_action = self._action(
            file, "Export All Images…", self.files.export_all, "Ctrl+Shift+E"
        )
        file.addSeparator()
        self._action(file, "Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self.copy_action = self._action(
            edit, "Copy Image", self.files.copy_canvas, QKeySequence.StandardKey.Copy
        )
        run = bar.addMenu("&Run")
        self.train_action = self._action(run, "Train", self.state.train, "Ctrl+T")
        self.generate_action = self._action(run, "Generate", self.generate_panel.generate, "Ctrl+G")
        self.cancel_action = self._action(run, "Stop", self.state.cancel, "Esc")
        self.engine_menu = EngineMenu(self.state, run.addMenu("Engine"), self.engine_status, self)
        self.engine_actions = self.engine_menu.actions
        view = bar.addMenu("&View")
        self.compare_action = self._action(
            view, "Compare With Training Image", self.canvas.set_comparing, "C", checked=False
        )
        self.guided_action = self._action(
            view, "Show Guided Region", self.canvas.set_showing_guided, "G", checked=True
        )
        self.repeat_action = self._action(
            view, "Repeat Tiled Images", self.repeat.set_enabled, "R", checked=True
        )
        view.addSeparator()
        self._action(view, "Fit to Window", self.canvas.fit_to_window, "Ctrl+0")
        self._action(view, "Actual Size (1:1)", self.canvas.actual_size, "Ctrl+1")
        zoom_in = self._action(view, "Zoom In", self.canvas.zoom_in, "Ctrl++")
        zoom_in.setShortcuts([QKeySequence("Ctrl++"), QKeySequence("Ctrl+=")])  # = is unshifted +
        self._action(view, "Zoom Out", self.canvas.zoom_out, "Ctrl+-")
        self.recent = RecentFiles(self.settings, self.recent_menu, self)

    def _connect(self) -> None:
        s = self.state
        s.canvas_changed.connect(self.repeat.show)  # on to the canvas, tiled images repeated
        s.error_raised.connect(self._on_error)
        s.message.connect(self._on_message)
        s.progress_changed.connect(self._on_progress)
        s.job_changed.connect(self._on_job_changed)
        s.model_changed.connect(self._on_model_changed)
        s.image_changed.connect(self._on_model_changed)
        s.results_changed.connect(self._on_results_changed)
        s.idle.connect(self._on_idle)
        self.results.export_requested.connect(self.files.export)
        self.results.copy_requested.connect(self.files.copy_result)
        self.files.message.connect(self._on_message)
        self.files.error_raised.connect(self._on_error)
        self.recent.open_requested.connect(self.open_path)
        self.results.use_seed_requested.connect(self._use_seed_of)
        s.size_changed.connect(self._update_region_canvas)
        self.edit_panel.centre_changed.connect(self._update_centre)
        tiles = self.edit_panel.fill_pages.tiles
        tiles.repeat_toggled.connect(self.repeat.set_enabled)
        self.repeat.toggled.connect(tiles.set_repeat)
        self.repeat.toggled.connect(self.repeat_action.setChecked)
        self.tabs.currentChanged.connect(self._update_centre)

    # ------------------------------------------------------------------------ commands

    @Slot()
    def open_image_dialog(self) -> None:
        path = self.files.ask_open_path("Open a photo", "last_image_dir", IMAGE_FILTER)
        if path:
            self.open_path(path)

    @Slot()
    def open_model_dialog(self) -> None:
        path = self.files.ask_open_path("Open a model", "last_model_dir", MODEL_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Open an image or a model file, whichever it is. A model is read in the worker: True
        means it is on its way (it joins the recent files, and the Generate tab shows, once it
        has arrived). A photo opens on the Generate tab: Instant generates from it at once, and
        the Train tab trains on it."""
        if self.state.busy:
            self._on_error("Busy", "Stop the running job before opening another file.")
            return False
        if path.lower().endswith(".sinddm"):
            started = self.state.open_model(path)
            self._opening = path if started else None
            return started
        opened = self.state.open_image(path)
        if opened:
            self.recent.remember(path)
            self.tabs.setCurrentWidget(self.generate_panel)
        return opened

    @Slot(int)
    def _use_seed_of(self, index: int) -> None:
        """The next Generate recreates this result (its seed and canvas size)."""
        result = self.state.results[index]
        self.state.set_seed(result.seed)
        self.state.set_size(*result.size)
        self.tabs.setCurrentWidget(self.generate_panel)

    @Slot()
    def _update_centre(self, *_) -> None:
        """The region or object canvas replaces the image while placing things (not while
        generating, so the image can be watched as it forms)."""
        tool = None
        if self.tabs.currentWidget() is self.edit_panel and not self.state.busy:
            tool = self.edit_panel.centre_tool
        self._update_region_canvas()
        views = {
            "regions": self.regions,
            "object": self.objects,
            "heal": self.masks,
            "extend": self.extend_view,
        }
        self.centre_stack.setCurrentWidget(views.get(tool or "", self.canvas))

    @Slot()
    def _update_region_canvas(self, *_) -> None:
        """The region canvas is the state's canvas size, over the image shown if it fits."""
        self.regions.set_canvas(*self.state.size, self.state.canvas)

    # ------------------------------------------------------------------------ reactions

    @Slot(str, str)
    def _on_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message, 10_000)
        QMessageBox.warning(self, title, message)

    @Slot(str)
    def _on_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8_000)

    @Slot(float, str)
    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress_text.setText(text)

    @Slot(str)
    def _on_job_changed(self, kind: str) -> None:
        s = self.state
        self.progress.setRange(0, 1000)
        self.progress.setVisible(kind in (JobKind.TRAIN, JobKind.SAMPLE))
        self.train_action.setEnabled(s.can_train)
        self.generate_action.setEnabled(s.can_generate)
        self.cancel_action.setEnabled(bool(kind))
        self.save_action.setEnabled(s.model is not None and not s.model.instant and not s.busy)
        self._trained = self._trained or kind == JobKind.TRAIN
        self.engine_menu.update()
        if kind == JobKind.SAMPLE:
            self.compare_action.setChecked(False)
        self._update_centre()

    @Slot()
    def _on_model_changed(self) -> None:
        model = self.state.model
        if model is None:
            self.regions.set_source(None)
        else:  # regions are picked in photo pixels, on the photo at that resolution
            self.regions.set_source(model.photo_image, model.output_size)
        if model is not None and model.path == self._opening:
            self._opening = None
            self.recent.remember(model.path)
            self.tabs.setCurrentWidget(self.generate_panel)
        elif (
            model is not None
            and not model.instant  # its photo joined the recent files as it was opened
            and Path(model.path).resolve().parent != BUNDLED_DIR
        ):
            self.recent.remember(model.path)  # autosaved trainings are easy to find again
        self.canvas.set_reference(self.state.training_image)
        self._on_job_changed(self.state.job)
        self.setWindowTitle(window_title(self.state))

    @Slot()
    def _on_results_changed(self) -> None:
        has = bool(self.state.results)
        self.export_action.setEnabled(has)
        self.export_all_action.setEnabled(has)

    @Slot()
    def _on_idle(self) -> None:
        self._opening = None  # it arrived, or could not be opened (an error said why)
        trained, self._trained = self._trained, False
        model = self.state.model
        if self._close_when_idle:
            QTimer.singleShot(0, self.close)
        elif (
            trained
            and model is not None
            and not model.instant
            and self.tabs.currentWidget() is self.train_panel
        ):  # a training ended: on to generating (an edit run leaves the Edit tab in place)
            self.tabs.setCurrentWidget(self.generate_panel)

    def recent_files(self) -> list[str]:
        """File ▸ Open Recent's files, newest first."""
        return self.recent.paths()

    # ------------------------------------------------------------------- window events

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.open_path(urls[0].toLocalFile())

    def _restore_state_settings(self) -> None:
        """The CLIP weights and Fast sampling of the last session, into the state."""
        self.state.set_clip_weights(str(self.settings.value("clip_weights", "openai")))
        fast = str(self.settings.value("fast_sampling", "false")).lower() == "true"
        self.state.set_fast(fast)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 780)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.state.busy:
            if not self._close_when_idle and not self._confirm_stop():
                event.ignore()
                return
            self._close_when_idle = True
            self.state.cancel()
            event.ignore()  # closes when the job has stopped (and training has saved)
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.edit_panel.apply_clip_weights()  # typed, perhaps without Enter
        self.settings.setValue("clip_weights", self.state.clip_weights)
        self.settings.setValue("fast_sampling", self.state.fast)
        self.state.shutdown()
        event.accept()

    def _confirm_stop(self) -> bool:
        training = self.state.job == JobKind.TRAIN
        what = "Training" if training else "Generating"
        saved = "A checkpoint is saved first, so you can resume later." if training else ""
        text = f"{what} is still running. Stop it and quit? {saved}"
        answer = QMessageBox.question(self, "Stop and quit?", text)
        return answer == QMessageBox.StandardButton.Yes


def window_title(state: AppState) -> str:
    """'photo.png (Instant) — SinDDM Studio': the model in use, else the open photo."""
    model = state.model
    if model is not None:
        engine = "Instant" if model.instant else "trained model"
        return f"{Path(model.path).name} ({engine}) — SinDDM Studio"
    if state.image is not None:
        return f"{Path(state.image.path).name} — SinDDM Studio"
    return "SinDDM Studio"
