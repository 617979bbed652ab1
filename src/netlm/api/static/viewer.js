/* The dose viewer of netlm (templates/partials/viewer.html), on the vendored NiiVue.
 *
 * Each <section data-viewer> names the volumes of one computed dose
 * (/api/v1/patients/P/images/I/viewer/LAYER.nii.gz): the CT (or, without one,
 * the activity image) in grey, the PET/SPECT fused on it, the dose as a colour
 * wash, the isodose lines and the VOI outlines.  Controls: view, slice, window
 * of the background, range of the dose wash, layers on or off.
 * No inline script (the Content-Security-Policy allows scripts from 'self' only).
 */
(function () {
  "use strict";
  if (window.netlmViewer) {
    return;
  }
  window.netlmViewer = { started: 0 };

  // Distinct outline colours (VOIs) and isodose colours (low to high).
  var VOI_COLOURS = [
    [60, 220, 75], [0, 130, 255], [255, 225, 25], [245, 130, 48],
    [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]
  ];
  var ISO_COLOURS = [
    [0, 200, 255], [255, 255, 0], [255, 40, 40], [255, 255, 255],
    [255, 0, 255], [0, 255, 0], [255, 140, 0], [160, 160, 255]
  ];

  // A colour map giving label k (1..n) the k-th colour, with cal_min 0.5 and cal_max n + 0.5;
  // 0 (and anything at or below cal_min) is transparent.
  function discrete(colours, n) {
    var map = { R: [], G: [], B: [], A: [], I: [] };
    push(map, colours[0], 0, 0);
    for (var k = 1; k <= n; k++) {
      var c = colours[(k - 1) % colours.length];
      var at = Math.max(1, Math.round((255 * (k - 0.5)) / n));
      push(map, c, at, 255);
      if (k === n && at < 255) {
        push(map, c, 255, 255);
      }
    }
    return map;
  }

  function push(map, c, at, alpha) {
    map.R.push(c[0]);
    map.G.push(c[1]);
    map.B.push(c[2]);
    map.A.push(alpha);
    map.I.push(at);
  }

  var DOSE_MAP = {
    R: [0, 0, 0, 255, 255, 200],
    G: [0, 90, 200, 230, 120, 0],
    B: [140, 255, 80, 0, 0, 0],
    A: [0, 96, 128, 160, 192, 224],
    I: [0, 40, 100, 160, 210, 255]
  };
  var HOT_MAP = {
    R: [0, 160, 255, 255, 255],
    G: [0, 0, 120, 220, 255],
    B: [0, 0, 0, 60, 255],
    A: [0, 64, 128, 192, 255],
    I: [0, 64, 128, 192, 255]
  };

  function swatch(colour, text) {
    var span = document.createElement("span");
    span.className = "swatch";
    span.style.borderColor = "rgb(" + colour.join(",") + ")";
    span.textContent = text;
    return span;
  }

  function setStatus(root, text, failed) {
    var status = root.querySelector(".viewer-status");
    status.textContent = text;
    status.classList.toggle("error", Boolean(failed));
  }

  function control(root, name) {
    return root.querySelector('[data-control="' + name + '"]');
  }

  async function start(root) {
    var layers = (root.dataset.layers || "").split(",").filter(Boolean);
    var vois = (root.dataset.vois || "").split("|").filter(Boolean);
    var levels = (root.dataset.levels || "").split(",").filter(Boolean).map(Number);
    var base = root.dataset.base;
    var canvas = root.querySelector("canvas");
    var nv = new window.niivue.Niivue({
      backColor: [0, 0, 0, 1],
      crosshairColor: [0.3, 0.9, 0.3, 0.8],
      crosshairWidth: 1,
      isColorbar: false,
      show3Dcrosshair: false,
      logLevel: "error",
      loadingText: "loading…",
      multiplanarShowRender: window.niivue.SHOW_RENDER.NEVER
    });
    await nv.attachToCanvas(canvas);
    nv.addColormap("netlm-dose", DOSE_MAP);
    nv.addColormap("netlm-hot", HOT_MAP);
    nv.addColormap("netlm-iso", discrete(ISO_COLOURS, Math.max(levels.length, 1)));
    nv.addColormap("netlm-vois", discrete(VOI_COLOURS, Math.max(vois.length, 1)));

    var volumes = [];
    var index = {};
    var opacity = {};
    function add(layer, options) {
      index[layer] = volumes.length;
      opacity[layer] = options.opacity === undefined ? 1 : options.opacity;
      options.url = base + layer + ".nii.gz";
      options.name = layer + ".nii.gz";
      volumes.push(options);
    }
    var background = layers.indexOf("ct") >= 0 ? "ct" : "activity";
    add(background, { colormap: "gray" });
    if (background === "ct" && layers.indexOf("activity") >= 0) {
      add("activity", { colormap: "netlm-hot", opacity: 0.35 });
    }
    var doseFrom = levels.length ? levels[0] / 4 : 1;
    var doseTo = levels.length ? levels[levels.length - 1] * 1.25 : 100;
    // Without a dose (a registration to confirm): the CT and the activity image only.
    var hasDose = layers.indexOf("dose") >= 0;
    if (hasDose) {
      add("dose", { colormap: "netlm-dose", opacity: 0.55, cal_min: doseFrom, cal_max: doseTo });
      add("isodose", {
        colormap: "netlm-iso", opacity: 1, cal_min: 0.5, cal_max: Math.max(levels.length, 1) + 0.5
      });
    }
    if (layers.indexOf("vois") >= 0 && vois.length) {
      add("vois", {
        colormap: "netlm-vois", opacity: 1, cal_min: 0.5, cal_max: vois.length + 0.5
      });
    }
    await nv.loadVolumes(volumes);
    nv.setSliceType(nv.sliceTypeMultiplanar);

    // Start on the hottest voxel of the dose (or of the activity image).
    var dose = nv.volumes[hasDose ? index.dose : index.activity];
    var peak = 0;
    for (var n = 1; n < dose.img.length; n++) {
      if (dose.img[n] > dose.img[peak]) {
        peak = n;
      }
    }
    var dims = dose.hdr.dims;
    var vox = [peak % dims[1], Math.floor(peak / dims[1]) % dims[2], Math.floor(peak / (dims[1] * dims[2])), 1];
    var affine = dose.hdr.affine; // raw voxel -> RAS mm
    var mm = [0, 1, 2].map(function (row) {
      return affine[row].reduce(function (sum, value, col) {
        return sum + value * vox[col];
      }, 0);
    });
    nv.scene.crosshairPos = nv.mm2frac(mm);
    nv.drawScene();

    // Controls.
    var back = nv.volumes[0];
    control(root, "window-min").value = Math.round(back.cal_min);
    control(root, "window-max").value = Math.round(back.cal_max);
    if (hasDose) {
      control(root, "dose-min").value = doseFrom;
      control(root, "dose-max").value = doseTo;
    }
    function windowChanged() {
      var low = Number(control(root, "window-min").value);
      var high = Number(control(root, "window-max").value);
      if (Number.isFinite(low) && Number.isFinite(high) && high > low) {
        back.cal_min = low;
        back.cal_max = high;
        nv.updateGLVolume();
      }
    }
    function doseChanged() {
      var low = Number(control(root, "dose-min").value);
      var high = Number(control(root, "dose-max").value);
      if (Number.isFinite(low) && Number.isFinite(high) && high > low && low >= 0) {
        dose.cal_min = low;
        dose.cal_max = high;
        nv.updateGLVolume();
      }
    }
    ["window-min", "window-max"].forEach(function (name) {
      control(root, name).addEventListener("change", windowChanged);
    });
    ["dose-min", "dose-max"].forEach(function (name) {
      if (control(root, name)) {
        control(root, name).addEventListener("change", doseChanged);
      }
    });
    var views = {
      axial: nv.sliceTypeAxial,
      coronal: nv.sliceTypeCoronal,
      sagittal: nv.sliceTypeSagittal,
      multiplanar: nv.sliceTypeMultiplanar
    };
    var axisOf = { axial: 2, coronal: 1, sagittal: 0, multiplanar: 2 };
    var current = "multiplanar";
    var slice = control(root, "slice");
    slice.value = Math.round(nv.scene.crosshairPos[axisOf[current]] * 1000);
    root.querySelectorAll("[data-view]").forEach(function (button) {
      button.addEventListener("click", function () {
        current = button.dataset.view;
        nv.setSliceType(views[current]);
        slice.value = Math.round(nv.scene.crosshairPos[axisOf[current]] * 1000);
      });
    });
    slice.addEventListener("input", function () {
      nv.scene.crosshairPos[axisOf[current]] = Number(slice.value) / 1000;
      nv.drawScene();
    });
    root.querySelectorAll("[data-layer]").forEach(function (box) {
      box.addEventListener("change", function () {
        var layer = box.dataset.layer;
        if (index[layer] !== undefined) {
          nv.setOpacity(index[layer], box.checked ? opacity[layer] : 0);
        }
      });
    });

    // Legend: VOI and isodose colours.
    var legend = root.querySelector(".viewer-legend");
    vois.forEach(function (name, k) {
      legend.appendChild(swatch(VOI_COLOURS[k % VOI_COLOURS.length], name));
    });
    levels.forEach(function (level, k) {
      legend.appendChild(swatch(ISO_COLOURS[k % ISO_COLOURS.length], level + " Gy"));
    });
    setStatus(root, "");
    root.dataset.ready = "1";
    window.netlmViewer.started += 1;
  }

  function startAll() {
    document.querySelectorAll("section[data-viewer]").forEach(function (root) {
      if (root.dataset.started) {
        return;
      }
      root.dataset.started = "1";
      if (!window.niivue || !window.niivue.Niivue) {
        setStatus(root, "The image viewer could not be loaded.", true);
        return;
      }
      start(root).catch(function (error) {
        root.dataset.ready = "error";
        setStatus(root, "The images could not be shown: " + (error && error.message ? error.message : error), true);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
