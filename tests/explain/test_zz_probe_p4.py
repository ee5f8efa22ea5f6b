import numpy as np, time
from sklearn.metrics import roc_auc_score
from motiflens.explain.saliency import attribute
from motiflens.explain.ism import saturation_mutagenesis

def test_probe(trained_sim):
    print("val auroc", trained_sim.best_val_auroc)
    for task in ["CTCF", "REST"]:
        rows, inside = trained_sim.motif_mask(task)
        k = trained_sim.target_labels.index(task)
        x = trained_sim.x_test[rows]
        print(task, "rows", len(rows))
        t0 = time.time()
        ism = saturation_mutagenesis(trained_sim.model, x, targets=k, device="cpu").delta[..., 0]
        obs = -(ism.sum(1)) / 3  # f(x) - mean over the 3 others
        print("ism", f"{roc_auc_score(inside.ravel(), obs.ravel()):.4f}", "abs", f"{roc_auc_score(inside.ravel(), np.abs(ism).sum(1).ravel()):.4f}", f"{time.time()-t0:.1f}s")
        for method in ["gradient_x_input", "integrated_gradients", "deeplift_shap"]:
            for nsh in ([8, 20] if method != "gradient_x_input" else [1]):
                t0 = time.time()
                r = attribute(trained_sim.model, x, targets=k, method=method, n_shuffles=nsh, random_state=0, device="cpu")
                proj = r.attributions[..., 0].sum(1)
                hypabs = np.abs(r.hypothetical[..., 0]).sum(1)
                print(method, nsh, f"signed {roc_auc_score(inside.ravel(), proj.ravel()):.4f}",
                      f"abs {roc_auc_score(inside.ravel(), np.abs(proj).ravel()):.4f}",
                      f"hypabs {roc_auc_score(inside.ravel(), hypabs.ravel()):.4f}",
                      "maxdelta", r.max_delta, f"{time.time()-t0:.1f}s")
