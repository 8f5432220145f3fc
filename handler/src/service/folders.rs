//! Folder trees of an area (`GET /voices/folders`, `/vc_inputs/folders`, `/outputs/folders`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::area::Entry;

/// A folder in a folder listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FolderInfo {
    /// Path relative to the area root (`root` for the root itself).
    pub path: String,
    /// Files directly in this folder (named `voice_count` in every area, as the original did).
    pub voice_count: usize,
    /// The same count under a name that fits outputs and VC inputs.
    pub file_count: usize,
    /// Direct child folders (relative paths).
    pub subfolders: Vec<String>,
}

/// The folder listing returned by every `.../folders` endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FoldersResponse {
    /// Folders: `root` first (only if it holds files), then by path.
    pub folders: Vec<FolderInfo>,
    /// Number of folders listed (excluding `root`).
    pub total_folders: usize,
    /// Files in the whole area (named as in the original).
    pub total_voices: usize,
    /// The same count under a neutral name.
    pub total_files: usize,
}

/// Builds the folder tree of an area from its entries. Folders exist while they hold
/// files at any depth, as on S3; each lists its direct children.
pub fn folder_tree(entries: &[Entry]) -> FoldersResponse {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut children: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut root_files = 0;
    for entry in entries {
        let Some(folder) = &entry.folder else {
            root_files += 1;
            continue;
        };
        *counts.entry(folder.clone()).or_default() += 1;
        // Register every ancestor and the parent -> child link at each level.
        let mut path = String::new();
        for segment in folder.split('/') {
            let parent = path.clone();
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(segment);
            counts.entry(path.clone()).or_default();
            if !parent.is_empty() {
                children.entry(parent).or_default().insert(path.clone());
            }
        }
    }
    let mut folders = Vec::with_capacity(counts.len() + 1);
    let top_level: Vec<String> = counts
        .keys()
        .filter(|p| !p.contains('/'))
        .cloned()
        .collect();
    if root_files > 0 {
        folders.push(FolderInfo {
            path: "root".into(),
            voice_count: root_files,
            file_count: root_files,
            subfolders: top_level,
        });
    }
    let total_folders = counts.len();
    for (path, count) in counts {
        let subfolders = children
            .remove(&path)
            .map(|set| set.into_iter().collect())
            .unwrap_or_default();
        folders.push(FolderInfo {
            path,
            voice_count: count,
            file_count: count,
            subfolders,
        });
    }
    FoldersResponse {
        folders,
        total_folders,
        total_voices: entries.len(),
        total_files: entries.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::area::Area;

    fn entry(relative: &str) -> Entry {
        let key = Area::Voices.key(relative).unwrap();
        Entry {
            key,
            relative: relative.into(),
            folder: relative.rsplit_once('/').map(|(f, _)| f.to_owned()),
            size: 1,
            modified: chrono::Utc::now(),
            has_sidecar: false,
        }
    }

    #[test]
    fn folder_tree_links_every_parent_to_its_children() {
        let entries = vec![
            entry("a.wav"),
            entry("x/y/z/b.wav"),
            entry("x/c.wav"),
            entry("w/d.wav"),
        ];
        let tree = folder_tree(&entries);
        let paths: Vec<&str> = tree.folders.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["root", "w", "x", "x/y", "x/y/z"]);
        assert_eq!(tree.folders[0].subfolders, ["w", "x"]);
        assert_eq!(tree.folders[2].subfolders, ["x/y"]);
        assert_eq!(tree.folders[2].voice_count, 1);
        assert_eq!(tree.folders[3].voice_count, 0);
        assert_eq!(tree.folders[3].subfolders, ["x/y/z"]);
        assert_eq!(tree.total_folders, 4);
        assert_eq!(tree.total_voices, 4);
    }

    #[test]
    fn root_is_listed_only_when_it_holds_files() {
        let tree = folder_tree(&[entry("x/a.wav")]);
        assert_eq!(tree.folders[0].path, "x");
    }
}
