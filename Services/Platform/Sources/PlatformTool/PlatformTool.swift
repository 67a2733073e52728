// PlatformTool
