"""The Conv1D classifier of the product design; its penultimate layer is the 256-d track-slice embedding."""

from __future__ import annotations

from recommenders.audio.features import N_MELS, SLICE_FRAMES
from recommenders.audio.tf_runtime import import_tensorflow

EMBEDDING_LAYER = "embedding"


def build_cnn(n_labels: int, seed: int = 42):
    """Three Conv1D(64/128/256, 3, ReLU) + BatchNorm + MaxPool1D(2) blocks, GlobalMaxPool1D, two Dense(256) +
    Dropout(0.5), softmax; input (128 frames, 128 mels): time is the convolved axis, mel bands the channels."""
    return build_conv1d((SLICE_FRAMES, N_MELS), n_labels, (64, 128, 256), hidden=True, seed=seed,
                        input_name="log_mel", name="murecom_audio_cnn")  # fmt: skip


def build_conv1d(
    input_shape: tuple[int, int],
    n_labels: int,
    filters: tuple[int, ...],
    *,
    hidden: bool,
    seed: int,
    input_name: str,
    name: str,
    pooled_dropout: float = 0.0,
):
    """The product's Conv1D classifier over (time, channels): per entry of `filters` a Conv1D(f, 3, ReLU) +
    BatchNorm + MaxPool1D(2) block, GlobalMaxPool1D, an optional Dense(256) + Dropout(0.5) (`hidden`), the
    Dense(256) embedding layer + Dropout(0.5), softmax over the labels."""
    import_tensorflow()
    # lazy: Keras loads TensorFlow (seconds), so only when a model is built or loaded
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape, name=input_name)
    x = inputs
    for f in filters:
        x = layers.Conv1D(f, 3, activation="relu", padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling1D(2)(x)
    x = layers.GlobalMaxPooling1D()(x)
    if pooled_dropout:
        x = layers.Dropout(pooled_dropout)(x)
    if hidden:
        x = layers.Dense(256, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
    x = layers.Dense(256, activation="relu", name=EMBEDDING_LAYER)(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(n_labels, activation="softmax", name="labels")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
