"""The main window: canvas in the middle, Train / Generate panels beside it, results below."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
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

from app.events import ModelKind
from app.messages import engine_choice, engine_in_use
from app.results import BUNDLED_DIR, export_name
from app.state import AppState
from app.widgets.canvas import ImageCanvas, to_qimage
from app.widgets.edit_panel import EditPanel
from app.widgets.fill_views import ExtendView, MaskCanvas
from app.widgets.filters import IMAGE_FILTER, MODEL_FILTER
from app.widgets.generate_panel import GeneratePanel
from app.widgets.object_canvas import ObjectCanvas
from app.widgets.region_canvas import RegionCanvas
from app.widgets.repeat_preview import RepeatPreview
from app.widgets.results_strip import ResultsStrip
from app.widgets.train_panel import TrainPanel
from core.errors import SinDDMError

MAX_RECENT = 8
NO_OVERWRITE_PROMPT = QFileDialog.Option.DontConfirmOverwrite
"""The window asks before replacing a file itself (`MainWindow._may_replace`), once the file
name has its extension."""


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
        self.tabs = QTabWidget()
        self.tabs.addTab(self.train_panel, "Train")
        self.tabs.addTab(self.generate_panel, "Generate")
        self.tabs.addTab(self.edit_panel, "Edit")
        self.centre_stack = QStackedWidget()
        self.centre_stack.addWidget(self.canvas)
        self.centre_stack.addWidget(self.regions)
        self.centre_stack.addWidget(self.objects)
        self.centre_stack.addWidget(self.masks)
        self.centre_stack.addWidget(self.extend_view)
        self.progress = QProgressBar(maximumWidth=220, textVisible=False)
        self.progress_text = QLabel(minimumWidth=320)
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
            file, "Save Model As…", self.save_model_dialog, QKeySequence.StandardKey.Save
        )
        self.export_action = self._action(file, "Export Image…", self.export_dialog, "Ctrl+E")
        self.export_all_action = self._action(
            file, "Export All Images…", self.export_all_dialog, "Ctrl+Shift+E"
        )
        file.addSeparator()
        self._action(file, "Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self.copy_action = self._action(
            edit, "Copy Image", self.copy_image, QKeySequence.StandardKey.Copy
        )
        run = bar.addMenu("&Run")
        self.train_action = self._action(run, "Train", self.state.train, "Ctrl+T")
        self.generate_action = self._action(run, "Generate", self.generate_panel.generate, "Ctrl+G")
        self.cancel_action = self._action(run, "Stop", self.state.cancel, "Esc")
        self._build_engine_menu(run.addMenu("Engine"))
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
        self._rebuild_recent_menu()

    def _build_engine_menu(self, menu) -> None:
        """Run > Engine: Instant or the trained model, as the Generate tab's Engine box."""
        group = QActionGroup(self)  # exclusive: one is checked
        self.engine_actions: dict[ModelKind, QAction] = {}
        for kind, text in (("instant", "Instant (no training)"), ("trained", "Trained model")):
            action = group.addAction(QAction(text, self, checkable=True))
            action.setData(kind)
            action.triggered.connect(self._use_engine)
            menu.addAction(action)
            self.engine_actions[kind] = action

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
        self.results.export_requested.connect(self.export_dialog_for)
        self.results.copy_requested.connect(self.copy_result)
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
        path = self._ask_open_path("Open a photo", "last_image_dir", IMAGE_FILTER)
        if path:
            self.open_path(path)

    @Slot()
    def open_model_dialog(self) -> None:
        path = self._ask_open_path("Open a model", "last_model_dir", MODEL_FILTER)
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
            self._remember_recent(path)
            self.tabs.setCurrentWidget(self.generate_panel)
        return opened

    @Slot()
    def save_model_dialog(self) -> None:
        if self.state.model is None:
            return
        suggestion = str(Path(self._last_dir("last_model_dir")) / Path(self.state.model.path).name)
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", suggestion, MODEL_FILTER, options=NO_OVERWRITE_PROMPT
        )
        if path:
            if not path.endswith(".sinddm"):
                path += ".sinddm"
            self.settings.setValue("last_model_dir", str(Path(path).parent))
            same = Path(path).resolve() == Path(self.state.model.path).resolve()
            if same or self._may_replace(path):  # saving onto itself replaces nothing
                self.state.save_model(path)

    @Slot()
    def export_dialog(self) -> None:
        index = self.results.selected_index()
        if index is None and self.state.results:
            index = len(self.state.results) - 1
        if index is not None:
            self.export_dialog_for(index)

    @Slot(int)
    def export_dialog_for(self, index: int) -> None:
        path = self._ask_save_path(export_name(self.state.results[index]))
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            if self._may_replace(path):
                self.state.export_result(index, path)

    @Slot()
    def export_all_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Export all images to", self._last_dir("last_export_dir")
        )
        if not folder:
            return
        self.settings.setValue("last_export_dir", folder)
        replace = True
        existing = self.state.existing_exports(folder)
        if existing:
            answer = self._ask_replace_some(folder, existing)
            if answer == QMessageBox.StandardButton.Cancel:
                return
            replace = answer == QMessageBox.StandardButton.Yes
        count = self.state.export_all(folder, replace=replace)
        self._on_message(f"Exported {count} images to {folder}")

    @Slot()
    def copy_image(self) -> None:
        if self.state.canvas is not None:
            QGuiApplication.clipboard().setImage(to_qimage(self.state.canvas))
            self._on_message("Copied the image to the clipboard")

    @Slot(int)
    def copy_result(self, index: int) -> None:
        try:
            image = self.state.results[index].image  # read back when not in memory
        except SinDDMError as exc:
            self._on_error("Cannot copy the image", str(exc))
            return
        QGuiApplication.clipboard().setImage(to_qimage(image))

    @Slot()
    def _use_engine(self) -> None:
        self.state.use_engine(self.sender().data())
        self._show_engine()  # checks the one in use, should the state have refused

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
        self.centre_stack.setCurrentWidget(views.get(tool, self.canvas))

    @Slot()
    def _update_region_canvas(self, *_) -> None:
        """The region canvas is the state's canvas size, over the image shown if it fits."""
        self.regions.set_canvas(*self.state.size, self.state.canvas)

    # ------------------------------------------------------------------------ dialogs

    def _ask_open_path(self, title: str, key: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, self._last_dir(key), filters)
        if path:
            self.settings.setValue(key, str(Path(path).parent))
        return path

    def _ask_save_path(self, name: str) -> str:
        start = str(Path(self._last_dir("last_export_dir")) / name)
        path, _ = QFileDialog.getSaveFileName(
            self, "Export image", start, "PNG images (*.png)", options=NO_OVERWRITE_PROMPT
        )
        if path:
            self.settings.setValue("last_export_dir", str(Path(path).parent))
        return path

    def _may_replace(self, path: str) -> bool:
        """True when nothing is at `path`, or the user agrees to replace it. (The file dialog's
        own question is off: it would ask about the name before `.png` or `.sinddm` is added.)"""
        if not Path(path).exists():
            return True
        answer = QMessageBox.question(
            self,
            "Replace the file?",
            f"{Path(path).name} already exists in {Path(path).parent}. Replace it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _ask_replace_some(self, folder: str, names: list[str]) -> QMessageBox.StandardButton:
        """Yes: replace the files already there; No: export only the others; Cancel: neither."""
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        total = len(self.state.results)
        return QMessageBox.question(
            self,
            "Replace the files?",
            f"{len(names)} of the {total} images are already in {folder} ({shown}).\n\n"
            "Replace them? Choose No to keep them and export only the others.",
            QMessageBox.StandardButton.Yes
            | QMessageBox.StandardButton.No
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )

    def _last_dir(self, key: str) -> str:
        return str(self.settings.value(key, str(Path.home())))

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
        self.progress.setVisible(kind in ("train", "sample"))
        self.train_action.setEnabled(s.can_train)
        self.generate_action.setEnabled(s.can_generate)
        self.cancel_action.setEnabled(bool(kind))
        self.save_action.setEnabled(s.model is not None and not s.model.instant and not s.busy)
        self._trained = self._trained or kind == "train"
        self._show_engine()
        if kind == "sample":
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
            self._remember_recent(model.path)
            self.tabs.setCurrentWidget(self.generate_panel)
        elif (
            model is not None
            and not model.instant  # its photo joined the recent files as it was opened
            and Path(model.path).resolve().parent != BUNDLED_DIR
        ):
            self._remember_recent(model.path)  # autosaved trainings are easy to find again
        self.canvas.set_reference(self.state.training_image)
        self._on_job_changed(self.state.job)
        self.setWindowTitle(self._title())

    def _show_engine(self) -> None:
        """The Engine menu and the status bar follow the state."""
        s = self.state
        open_models = {model.kind: model for model in s.engines}
        for kind, action in self.engine_actions.items():
            model = open_models.get(kind)
            if kind == "trained":
                action.setText(engine_choice(model) if model else "Trained model")
            action.setEnabled(model is not None and s.can_switch_engine)
            action.setChecked(s.model is not None and s.model.kind == kind)
        self.engine_status.setText(engine_in_use(s.model) if s.model is not None else "")

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

    def _title(self) -> str:
        model = self.state.model
        if model is not None:
            engine = "Instant" if model.instant else "trained model"
            return f"{Path(model.path).name} ({engine}) — SinDDM Studio"
        if self.state.image is not None:
            return f"{Path(self.state.image.path).name} — SinDDM Studio"
        return "SinDDM Studio"

    # ------------------------------------------------------------------------- recent

    def _remember_recent(self, path: str) -> None:
        recent = [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", [path, *recent][:MAX_RECENT])
        self._rebuild_recent_menu()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setData(path)
            action.triggered.connect(self._open_recent)
        self.recent_menu.setEnabled(bool(self.recent_files()))

    @Slot()
    def _open_recent(self) -> None:
        self.open_path(self.sender().data())

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
        what = "Training" if self.state.job == "train" else "Generating"
        answer = QMessageBox.question(
            self,
            "Stop and quit?",
            f"{what} is still running. Stop it and quit? "
            + (
                "A checkpoint is saved first, so you can resume later."
                if self.state.job == "train"
                else ""
            ),
        )
        return answer == QMessageBox.StandardButton.Yes
