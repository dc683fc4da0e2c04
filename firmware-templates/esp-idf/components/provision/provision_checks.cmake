# What the component needs from the product's build, checked when the project is configured, so that
# a partition table or a setting that cannot work stops the build with one message instead of a
# device that fails in the field (README.md, "What your build must provide").

# A size from a partition table: 0x6000, 24576, 24K, 1M.
function(_provision_partition_bytes text out)
    string(STRIP "${text}" text)
    if(text MATCHES "^0[xX]([0-9a-fA-F]+)$")
        math(EXPR bytes "${text}" OUTPUT_FORMAT DECIMAL)
    elseif(text MATCHES "^([0-9]+)[kK]$")
        math(EXPR bytes "${CMAKE_MATCH_1} * 1024")
    elseif(text MATCHES "^([0-9]+)[mM]$")
        math(EXPR bytes "${CMAKE_MATCH_1} * 1024 * 1024")
    elseif(text MATCHES "^[0-9]+$")
        set(bytes "${text}")
    else()
        set(bytes -1)
    endif()
    set(${out} ${bytes} PARENT_SCOPE)
endfunction()

# The partition table this build uses (partition_table's project_include.cmake sets PARTITION_CSV_PATH).
function(_provision_check_partitions)
    if(NOT DEFINED PARTITION_CSV_PATH OR NOT EXISTS "${PARTITION_CSV_PATH}")
        message(FATAL_ERROR "provision: cannot find the partition table to check (PARTITION_CSV_PATH "
                            "'${PARTITION_CSV_PATH}'). Set CONFIG_PARTITION_TABLE_CUSTOM_FILENAME to a CSV file.")
    endif()
    file(STRINGS "${PARTITION_CSV_PATH}" lines)
    set(nvs_bytes -1)
    set(nvs_keys "")
    foreach(line IN LISTS lines)
        string(REGEX REPLACE "#.*$" "" line "${line}")
        string(REPLACE "," ";" fields "${line}")
        list(LENGTH fields count)
        if(count LESS 5)
            continue()
        endif()
        list(GET fields 0 name)
        list(GET fields 2 subtype)
        list(GET fields 4 size)
        string(STRIP "${name}" name)
        string(STRIP "${subtype}" subtype)
        set(flags "")
        if(count GREATER 5)
            list(GET fields 5 flags)
        endif()
        if(name STREQUAL "nvs" AND subtype STREQUAL "nvs")
            _provision_partition_bytes("${size}" nvs_bytes)
        elseif(subtype STREQUAL "nvs_keys")
            set(nvs_keys "${name}")
            string(FIND "${flags}" "encrypted" encrypted)
        endif()
    endforeach()
    math(EXPR min_bytes "${CONFIG_PROVISION_NVS_MIN_SIZE}" OUTPUT_FORMAT DECIMAL)
    if(nvs_bytes LESS 0)
        message(FATAL_ERROR "provision: the partition table ${PARTITION_CSV_PATH} has no data partition "
                            "\"nvs\" of subtype nvs: the key and the credentials live there. Add one of at least "
                            "${CONFIG_PROVISION_NVS_MIN_SIZE} bytes, e.g. \"nvs, data, nvs, , 0x6000,\".")
    elseif(nvs_bytes LESS min_bytes)
        message(FATAL_ERROR "provision: the \"nvs\" partition in ${PARTITION_CSV_PATH} has ${nvs_bytes} bytes; "
                            "the key and two credential sets need at least ${min_bytes} "
                            "(CONFIG_PROVISION_NVS_MIN_SIZE). Make it larger.")
    endif()
    if(CONFIG_NVS_ENCRYPTION AND CONFIG_NVS_SEC_KEY_PROTECT_USING_FLASH_ENC)
        if(nvs_keys STREQUAL "")
            message(FATAL_ERROR "provision: NVS encryption with the flash-encryption scheme keeps its keys in an "
                                "nvs_keys partition, and ${PARTITION_CSV_PATH} has none. Add "
                                "\"nvs_keys, data, nvs_keys, , 0x1000, encrypted\".")
        elseif(encrypted LESS 0)
            message(FATAL_ERROR "provision: the nvs_keys partition \"${nvs_keys}\" in ${PARTITION_CSV_PATH} is "
                                "not flagged encrypted: its XTS keys would be readable. Add the \"encrypted\" flag.")
        endif()
    endif()
endfunction()

function(provision_check_build)
    _provision_check_partitions()
    # The DS key's HMAC key and NVS encryption's HMAC key cannot share an eFuse key block.
    if(CONFIG_PROVISION_KEYSTORE_DS AND CONFIG_NVS_SEC_KEY_PROTECT_USING_HMAC AND
       CONFIG_PROVISION_DS_EFUSE_KEY_BLOCK EQUAL CONFIG_NVS_SEC_HMAC_EFUSE_KEY_ID)
        message(FATAL_ERROR "provision: CONFIG_PROVISION_DS_EFUSE_KEY_BLOCK and CONFIG_NVS_SEC_HMAC_EFUSE_KEY_ID "
                            "are both eFuse key block ${CONFIG_PROVISION_DS_EFUSE_KEY_BLOCK}: a block holds one HMAC "
                            "key with one purpose. Give the DS key another block.")
    endif()
    if(CONFIG_PROVISION_KEYSTORE_ATECC608 AND IDF_VERSION_MAJOR GREATER_EQUAL 6)
        message(FATAL_ERROR "The atecc608 key store cannot be built with ESP-IDF v${IDF_VERSION_MAJOR}."
                            "${IDF_VERSION_MINOR}: esp-cryptoauthlib (3.7.x) is written for Mbed TLS 3, and "
                            "ESP-IDF v6 ships Mbed TLS 4. Build it with ESP-IDF v5.2-v5.5, or choose another key "
                            "store (CONFIG_PROVISION_KEYSTORE_NVS).")
    endif()
endfunction()
