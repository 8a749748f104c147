"""Small configurations of every semantic architecture (fast CPU tests), by registry name."""

SEMANTIC = {
    "unet": {"base_channels": 4},
    "unet_encoder": {"encoder": "resnet18", "base_channels": 8},
    "deeplabv3": {"encoder": "resnet18", "output_stride": 8, "aux": True},
    "deeplabv3plus": {"encoder": "mobilenetv3_large_100", "output_stride": 16},
    "fastfcn": {"encoder": "resnet18", "head": "enc", "jpu_width": 32},
    "fastfcn_psp": {"encoder": "resnet18", "head": "psp", "jpu_width": 32},
    "fastfcn_aspp": {"encoder": "resnet18", "head": "aspp", "jpu_width": 32},
    "gscnn": {"encoder": "resnet18"},
    "smp": {"arch": "fpn", "encoder": "resnet18"},
}

# registry name of each case (cases that share a builder differ only in kwargs)
REGISTRY_NAME = {"unet_encoder": "unet", "fastfcn_psp": "fastfcn", "fastfcn_aspp": "fastfcn"}

# extra outputs each case returns besides `logits`
EXTRA_OUTPUTS = {
    "deeplabv3": {"aux_logits"},
    "fastfcn": {"aux_logits", "se_logits"},
    "fastfcn_psp": {"aux_logits"},
    "fastfcn_aspp": {"aux_logits"},
    "gscnn": {"edge_logits"},
}


def registry_name(case: str) -> str:
    return REGISTRY_NAME.get(case, case)
